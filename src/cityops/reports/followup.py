"""Citizen follow-up: subscribe to a case, rate it after resolution, see one's own reports."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError, Conflict, Forbidden, Invalid, Unauthorized
from cityops.identity.policy import Action, can
from cityops.notify import verification
from cityops.reports import timeline
from cityops.reports.access import Actor, target
from cityops.reports.models import Case, CaseRating, CaseReporter, CaseSubscription
from cityops.reports.workflow import State
from cityops.settings import Settings
from cityops.text import nfc

CHANNELS = ("push", "sms", "email")
RATEABLE = (State.RESOLVED.value, State.CLOSED.value)


@dataclass(frozen=True)
class Subscribed:
    """What a subscribe request did: followed now, or a confirmation code sent to the typed address."""

    subscription: CaseSubscription
    verification_sent: bool


def subscribe(
    session: Session,
    settings: Settings,
    actor: Actor,
    case: Case,
    *,
    channel: str = "push",
    address: str | None = None,
    client_ip: str | None = None,
    now: datetime | None = None,
) -> Subscribed:
    """Follow ``case``: a signed-in user by their account at once; a typed SMS/e-mail address only once
    confirmed (:func:`confirm`), with a code sent to it now.

    Codes are limited per address (``reports_codes_per_address_per_hour``, every case together), per
    client (``reports_codes_per_client_per_hour``) and per case (``reports_address_subscriptions_per_case``
    addresses): 429 with ``Retry-After`` beyond them. Nothing is sent to an address that did not confirm.
    """
    now = now or utcnow()
    if channel not in CHANNELS:
        raise Invalid(f"channel must be one of {list(CHANNELS)}")
    if address is None or not address.strip():
        if actor.user_id is None:
            raise Unauthorized("Sign in, or give a phone (sms) or e-mail address to be notified at")
        return Subscribed(_follow_by_account(session, actor.user_id, case, channel, now), False)
    if channel == "push":
        raise Invalid("Push notifications follow an account: sign in, or choose sms or email")
    address = verification.normalize_address(channel, address)
    existing = session.scalar(
        select(CaseSubscription).where(
            CaseSubscription.case_id == case.id,
            CaseSubscription.address == address,
            CaseSubscription.verified_at.is_not(None),
        )
    )
    if existing is not None:
        return Subscribed(existing, False)
    client = verification.client_key(settings, client_ip) if client_ip else None
    _check_code_limits(session, settings, case, address, client, now)
    # unconfirmed requests older than the limits' hour are dropped; recent ones stay and count (only the
    # latest code of a case and address works: confirm reads the newest row)
    session.execute(
        delete(CaseSubscription).where(
            CaseSubscription.address == address,
            CaseSubscription.verified_at.is_(None),
            CaseSubscription.created_at <= now - timedelta(hours=1),
        )
    )
    code = verification.new_code()
    sub = CaseSubscription(
        case_id=case.id,
        user_id=None,
        channel=channel,
        address=address,
        created_at=now,
        verified_at=None,
        code_hash=verification.code_digest(settings, f"case:{case.id}", address, code),
        code_expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        code_attempts=0,
        requested_from=client,
    )
    session.add(sub)
    session.flush()
    verification.send_code(session, settings, channel, address, code, {"ref": case.ref})
    return Subscribed(sub, True)


def _follow_by_account(
    session: Session, user_id: int, case: Case, channel: str, now: datetime
) -> CaseSubscription:
    existing = session.scalar(
        select(CaseSubscription).where(
            CaseSubscription.case_id == case.id, CaseSubscription.user_id == user_id
        )
    )
    if existing is not None:
        return existing
    sub = CaseSubscription(case_id=case.id, user_id=user_id, channel=channel, created_at=now, verified_at=now)
    session.add(sub)
    session.flush()
    return sub


def _too_many(message: str, wait: int = 3600) -> ApiError:
    return ApiError(429, message, code="too_many_requests", headers={"Retry-After": str(wait)})


def _check_code_limits(
    session: Session, settings: Settings, case: Case, address: str, client: str | None, now: datetime
) -> None:
    hour_ago = now - timedelta(hours=1)
    recent = select(func.count()).select_from(CaseSubscription).where(CaseSubscription.created_at > hour_ago)
    to_address = session.scalar(recent.where(CaseSubscription.address == address)) or 0
    if to_address >= settings.reports_codes_per_address_per_hour:
        raise _too_many("Too many codes were sent to this address; try again later.")
    if client is not None:
        from_client = session.scalar(recent.where(CaseSubscription.requested_from == client)) or 0
        if from_client >= settings.reports_codes_per_client_per_hour:
            raise _too_many("Too many subscription requests from this address; try again later.")
    on_case = session.scalar(
        select(func.count(func.distinct(CaseSubscription.address))).where(
            CaseSubscription.case_id == case.id,
            CaseSubscription.address.is_not(None),
            or_(CaseSubscription.verified_at.is_not(None), CaseSubscription.created_at > hour_ago),
        )
    )
    if (on_case or 0) >= settings.reports_address_subscriptions_per_case:
        raise _too_many("This case has as many followers by SMS or e-mail as it may have.")


def confirm(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    channel: str,
    address: str,
    code: str,
    now: datetime | None = None,
) -> CaseSubscription:
    """Confirm a typed address with the code sent to it; from then on it follows the case.

    A wrong, expired or unknown code answers the same 422; each wrong entry counts and the code dies
    after ``otp_max_attempts`` (the caller commits, so the count survives a refusal)."""
    now = now or utcnow()
    address = verification.normalize_address(channel, address)
    sub = session.scalar(
        select(CaseSubscription)
        .where(
            CaseSubscription.case_id == case.id,
            CaseSubscription.address == address,
            CaseSubscription.verified_at.is_(None),
        )
        .order_by(CaseSubscription.id.desc())
        .limit(1)
    )
    wrong = Invalid("The code is wrong or expired; ask for a new one.", code="invalid_code")
    if (
        sub is None
        or sub.code_hash is None
        or sub.code_expires_at is None
        or sub.code_expires_at <= now
        or sub.code_attempts >= settings.otp_max_attempts
    ):
        raise wrong
    sub.code_attempts += 1
    expected = verification.code_digest(settings, f"case:{case.id}", address, code)
    if not (code.strip().isdigit() and hmac.compare_digest(sub.code_hash, expected)):
        session.flush()
        raise wrong
    sub.verified_at, sub.code_hash, sub.code_expires_at = now, None, None
    session.flush()
    return sub


def rate(
    session: Session,
    actor: Actor,
    case: Case,
    score: int,
    comment: str | None = None,
    *,
    now: datetime | None = None,
) -> CaseRating:
    """The reporter rates a resolved (or closed) case 1–5, once."""
    by_token = actor.token_case_id is not None and actor.token_case_id == case.id
    if not (by_token or can(actor.principal, Action.CASE_RATE, target(session, actor, case))):
        raise Forbidden("Only the reporter of this case may rate it")
    if case.state not in RATEABLE:
        raise Conflict(f"A case can be rated once resolved; it is '{case.state}'", code="not_resolved")
    if isinstance(score, bool) or not 1 <= score <= 5:
        raise Invalid("score must be an integer from 1 to 5")
    rater = _rater(session, actor, case)
    text = nfc(comment)[:2000] if comment else None
    rating = CaseRating(case_id=case.id, rater=rater, score=score, comment=text, created_at=now or utcnow())
    session.add(rating)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("This case was already rated", code="already_rated") from None
    timeline.record(
        session, case, actor, now or utcnow(), "rating", action="rate", public=True, data={"score": score}
    )
    return rating


def _rater(session: Session, actor: Actor, case: Case) -> str:
    """One rating per reporter: the original reporter rates once, by token or by account alike."""
    original = session.scalar(
        select(CaseReporter.user_id)
        .where(CaseReporter.case_id == case.id, CaseReporter.merged_from_id.is_(None))
        .order_by(CaseReporter.id)
        .limit(1)
    )
    if actor.token_case_id == case.id or (actor.user_id is not None and actor.user_id == original):
        return "reporter"
    return f"user:{actor.user_id}"


def my_cases(session: Session, user_id: int, *, limit: int = 100, offset: int = 0) -> list[Case]:
    """The cases a signed-in citizen reported (including duplicates merged into a master they now follow)."""
    ids = select(CaseReporter.case_id).where(CaseReporter.user_id == user_id)
    return list(
        session.scalars(
            select(Case)
            .where(Case.id.in_(ids))
            .order_by(Case.submitted_at.desc(), Case.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )


def export_personal_data(session: Session, user_id: int) -> dict[str, Any]:
    """Everything the reports capability holds about a citizen: their reports with the contact details
    they gave, their subscriptions and ratings."""
    reporters = session.scalars(
        select(CaseReporter).where(CaseReporter.user_id == user_id).order_by(CaseReporter.id)
    )
    rows = []
    for rep in reporters:
        case = session.get(Case, rep.case_id)
        rows.append(
            {
                "ref": case.ref if case else None,
                "state": case.state if case else None,
                "description": case.description if case else None,
                "submitted_at": case.submitted_at.isoformat() if case else None,
                "name": rep.name,
                "phone": rep.phone,
                "email": rep.email,
                "consent": case.consent if case else None,
                "consent_purpose": case.consent_purpose if case else None,
                "merged_into": bool(rep.merged_from_id),
            }
        )
    subs = [
        {"case_id": s.case_id, "channel": s.channel}
        for s in session.scalars(select(CaseSubscription).where(CaseSubscription.user_id == user_id))
    ]
    ratings = [
        {"case_id": r.case_id, "score": r.score, "comment": r.comment}
        for r in session.scalars(select(CaseRating).where(CaseRating.rater == f"user:{user_id}"))
    ]
    return {"reports": rows, "subscriptions": subs, "ratings": ratings}


def erase_personal_data(session: Session, actor: Actor, user_id: int, *, now: datetime | None = None) -> int:
    """Remove a citizen's contact details from their reports and unlink them; the cases stay (anonymous).

    Returns how many reporter records were erased. Subscriptions are deleted; ratings stay, unlinked.
    """
    reps = session.scalars(select(CaseReporter).where(CaseReporter.user_id == user_id)).all()
    for rep in reps:
        rep.user_id = None
        rep.name = rep.phone = rep.email = rep.device_id = rep.account_id = None
        case = session.get(Case, rep.case_id)
        if case is not None:
            timeline.record(
                session, case, actor, now or utcnow(), "privacy", action="erase_reporter", public=False
            )
    for sub in session.scalars(select(CaseSubscription).where(CaseSubscription.user_id == user_id)).all():
        session.delete(sub)
    for rating in session.scalars(select(CaseRating).where(CaseRating.rater == f"user:{user_id}")).all():
        rating.rater = f"erased:{rating.id}"
    session.flush()
    return len(reps)

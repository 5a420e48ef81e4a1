"""Citizen follow-up: subscribe to a case, rate it after resolution, see one's own reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import Conflict, Forbidden, Invalid, Unauthorized
from cityops.identity.policy import Action, can
from cityops.reports import timeline
from cityops.reports.access import Actor, target
from cityops.reports.models import Case, CaseRating, CaseReporter, CaseSubscription
from cityops.reports.workflow import State
from cityops.text import nfc

CHANNELS = ("push", "sms", "email")
RATEABLE = (State.RESOLVED.value, State.CLOSED.value)


def subscribe(
    session: Session,
    actor: Actor,
    case: Case,
    *,
    channel: str = "push",
    address: str | None = None,
    now: datetime | None = None,
) -> CaseSubscription:
    """Follow ``case``: a signed-in user by their account, anyone else with an SMS/e-mail address."""
    if channel not in CHANNELS:
        raise Invalid(f"channel must be one of {list(CHANNELS)}")
    if actor.user_id is None and (not address or channel == "push"):
        raise Unauthorized("Sign in, or give a phone (sms) or e-mail address to be notified at")
    if address is not None:
        address = nfc(address)[:254]
    existing = session.scalar(
        select(CaseSubscription).where(
            CaseSubscription.case_id == case.id,
            CaseSubscription.user_id == actor.user_id
            if actor.user_id is not None
            else CaseSubscription.address == address,
        )
    )
    if existing is not None:
        return existing
    sub = CaseSubscription(
        case_id=case.id, user_id=actor.user_id, channel=channel, address=address, created_at=now or utcnow()
    )
    session.add(sub)
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

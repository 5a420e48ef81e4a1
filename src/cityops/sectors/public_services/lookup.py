"""The citizen's dossier lookup: a code plus the last 4 digits of the phone or ID number on record.

An unknown code and a wrong second factor answer the same 404 body, after the same work, so a guessed code
reveals nothing. Every lookup is logged in ``dossier_lookups`` with keyed hashes of the client address and
the typed code (never the digits) and its outcome; the log is the rate limit: per client address
(``dossier_lookups_per_client_per_hour``) and failures per code from every address together
(``dossier_failures_per_code_per_hour``), so 10,000 possible digits cannot be tried. Rows older than
:data:`KEEP` are purged as new ones come.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError, Invalid, NotFound
from cityops.sectors.public_services import factors
from cityops.sectors.public_services.dossiers import VN
from cityops.sectors.public_services.models import Dossier, DossierLookup
from cityops.sectors.public_services.statuses import CLOSED, STATUSES, WAITING_ON_APPLICANT
from cityops.settings import Settings

WINDOW = timedelta(hours=1)
KEEP = timedelta(days=90)
_DIGITS = re.compile(r"^\d{4}$")
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9./_-]{2,63}$")
_DUMMY_SALT = "0" * 32


def not_found() -> NotFound:
    return NotFound(
        "Không tìm thấy hồ sơ với mã và 4 số này / No dossier matches this code and these digits",
        code="dossier_not_found",
    )


def normalise_code(code: str) -> str:
    text = code.strip().upper()
    if not _CODE.match(text):
        raise Invalid("code: 3–64 letters, digits and . / _ - only", details={"field": "code"})
    return text


def _limited(wait: float, limit: int, what: str) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        f"Too many {what}; try again later",
        code="rate_limited",
        details={"retry_after": seconds, "limit": limit, "window_seconds": int(WINDOW.total_seconds())},
        headers={"Retry-After": str(seconds)},
    )


def _wait(
    session: Session, column: Any, key: str, limit: int, now: datetime, outcomes: tuple[str, ...]
) -> float:
    """Seconds until one more lookup is allowed for ``key`` (0: allowed now)."""
    since = now - WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(DossierLookup.at)).where(
            column == key, DossierLookup.at > since, DossierLookup.outcome.in_(outcomes)
        )
    ).one()
    if count < limit:
        return 0.0
    times = session.scalars(
        select(DossierLookup.at)
        .where(column == key, DossierLookup.at > since, DossierLookup.outcome.in_(outcomes))
        .order_by(DossierLookup.at.desc())
        .limit(limit)
    ).all()
    return (times[-1] + WINDOW - now).total_seconds() if times else (oldest + WINDOW - now).total_seconds()


def lookup(
    session: Session, settings: Settings, code: str, digits: str, client: str, now: datetime | None = None
) -> Dossier:
    """The dossier, or 404 (unknown code or wrong digits alike), 422 (malformed input), 429 (limits).

    Logs the lookup and commits the log."""
    now = now or utcnow()
    text = normalise_code(code)
    if not _DIGITS.match(digits.strip()):
        raise Invalid("digits: the last 4 digits of the phone or ID number", details={"field": "digits"})
    secret = settings.secret_key
    client_key = factors.log_key(secret, "client", client)
    code_key = factors.log_key(secret, "code", text)
    wait = _wait(
        session,
        DossierLookup.client_key,
        client_key,
        settings.dossier_lookups_per_client_per_hour,
        now,
        ("found", "not_found"),
    )
    limit = settings.dossier_lookups_per_client_per_hour
    what = "lookups from this address"
    if not wait:
        wait = _wait(
            session,
            DossierLookup.code_key,
            code_key,
            settings.dossier_failures_per_code_per_hour,
            now,
            ("not_found",),
        )
        limit, what = settings.dossier_failures_per_code_per_hour, "failed lookups of this code"
    if wait:
        session.add(DossierLookup(at=now, outcome="limited", client_key=client_key, code_key=code_key))
        session.commit()
        raise _limited(wait, limit, what)
    row = session.scalars(select(Dossier).where(Dossier.code == text)).one_or_none()
    typed = digits.strip()
    salt = row.factor_salt if row else _DUMMY_SALT
    phone_ok = factors.matches(secret, salt, row.phone_hash if row else None, "phone", typed)
    id_ok = factors.matches(secret, salt, row.id_hash if row else None, "id", typed)
    if row is None:  # the same hashing work as for a real code
        factors.factor_hash(secret, salt, "phone", typed)
        factors.factor_hash(secret, salt, "id", typed)
    found = row is not None and (phone_ok or id_ok)
    session.execute(delete(DossierLookup).where(DossierLookup.at < now - KEEP))
    session.add(
        DossierLookup(
            at=now,
            outcome="found" if found else "not_found",
            client_key=client_key,
            code_key=code_key,
            dossier_id=row.id if found and row else None,
        )
    )
    session.commit()
    if not found or row is None:
        raise not_found()
    return row


def is_overdue(row: Dossier, now: datetime) -> bool:
    """Late: returned after its due time, or still open (not waiting on the applicant) past it."""
    if row.due_at is None:
        return False
    if row.returned_at is not None:
        return row.returned_at > row.due_at
    if row.status in CLOSED or row.status in WAITING_ON_APPLICANT:
        return False
    return now > row.due_at


def _local(value: datetime | None) -> str | None:
    return value.astimezone(VN).isoformat() if value else None


def public_view(row: Dossier, now: datetime | None = None) -> dict[str, Any]:
    """What a citizen sees: the dossier's progress, nothing personal (no digits, hashes or applicant)."""
    now = now or datetime.now(UTC)
    status = STATUSES[row.status]
    return {
        "code": row.code,
        "procedure_code": row.procedure_code,
        "procedure_name": row.procedure_name,
        "agency_name": row.agency_name,
        "status": status.code,
        "status_vi": status.name_vi,
        "status_en": status.name_en,
        "received_at": _local(row.received_at),
        "due_at": _local(row.due_at),
        "returned_at": _local(row.returned_at),
        "overdue": is_overdue(row, now),
        "steps": [
            {
                "name": s.name,
                "agency_name": s.agency_name,
                "started_at": _local(s.started_at),
                "finished_at": _local(s.finished_at),
            }
            for s in row.steps
        ],
        "updated_at": _local(row.updated_at),
    }

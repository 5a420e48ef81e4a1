"""``Idempotency-Key`` on SensorThings POSTs: a retried create answers with the entity made the first time.

An Observation POSTed without ``phenomenonTime`` gets the server's time (OGC 18-088), so the usual
deduplication on (Datastream, phenomenonTime) cannot recognise a retry of it; with a key it can. The answers
are kept in the idempotency store of citizen reports (``case_idempotency``, model
:class:`cityops.reports.models.IdempotencyRecord`), under a scope of their own (``sta:user:<id>``,
``sta:key:<id>``), so a key never clashes with a report submission's; the daily prune of that store removes
them after ``cityops.reports.intake.IDEMPOTENCY_TTL`` (7 days).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError

MAX_KEY = 200  # the column's length


@dataclass(frozen=True)
class Claim:
    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True)
class Stored:
    status: int
    body: dict[str, Any]


def scope_of(principal: Any) -> str:
    """Whose keys: each user and each API key has its own key space."""
    if principal.user_id is not None:
        return f"sta:user:{principal.user_id}"
    if principal.api_key_id is not None:
        return f"sta:key:{principal.api_key_id}"
    return "sta:anon"


def claim(principal: Any, key: str, path: str, data: Any) -> Claim:
    """The claim of ``key`` for a POST of ``data`` to ``path``; 400 for an empty or overlong key."""
    from cityops.idempotency import request_fingerprint

    key = key.strip()
    if not key or len(key) > MAX_KEY or not key.isprintable() or not key.isascii():
        raise ApiError(
            400, f"Idempotency-Key must be 1–{MAX_KEY} printable ASCII characters", code="bad_request"
        )
    return Claim(scope_of(principal), key, request_fingerprint({"path": path.strip("/"), "body": data}))


def find(session: Session, claim: Claim) -> Stored | None:
    """The stored answer for the claim; 409 when the key was used for another request."""
    from cityops.idempotency import find_replay

    row = find_replay(session, claim.scope, claim.key, claim.fingerprint)
    return Stored(row.status, dict(row.body)) if row is not None else None


def record(session: Session, claim: Claim, status: int, body: dict[str, Any]) -> None:
    """Store the answer in the caller's transaction (it exists if and only if the entity does)."""
    from cityops.idempotency import IdempotencyRecord

    session.add(
        IdempotencyRecord(
            scope=claim.scope,
            key=claim.key,
            request_hash=claim.fingerprint,
            status=status,
            body=body,
            case_id=None,
            created_at=utcnow(),
        )
    )

"""``Idempotency-Key``: the stored answers that let a client retry a create without creating twice.

One store for every API that takes the header (citizen report submissions, SensorThings POSTs). A caller
names a *scope* (whose keys: ``user:<id>``, ``key:<id>``, ``anon``, ``sta:user:<id>``, ...), so keys of
different callers or APIs never meet; each API checks the key's shape itself, as its own standard says.

The protocol, the same for every caller:

1. ``find_replay(session, scope, key, fingerprint)`` before doing anything: the stored answer to replay,
   ``None`` for a first request, or 409 ``idempotency_key_reused`` when the key was used for another
   request (another fingerprint, :func:`request_fingerprint` of what the caller considers the request);
2. create the entity and, in the same transaction, store the answer (:func:`record`, or
   :func:`stored_row` for a caller writing Core rows in bulk), so the answer exists if and only if the
   entity does;
3. a concurrent request with the same key that committed first makes this commit fail on the unique
   (scope, key): roll back and ``find_replay`` again, then answer as the winner did.

Answers are kept :data:`TTL` (:func:`prune`); a retry after that creates anew. The table keeps the name it
was born with (``case_idempotency``) and its optional link to a case (a stored submission answer goes with
its case, and its tracking token is derived again from the case id on replay), declared by table name so
this module imports no capability.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime
from cityops.errors import Conflict

MAX_KEY = 200  # the key column's length
TTL = timedelta(days=7)  # a client retries within minutes or hours; a week is generous


class IdempotencyRecord(Base):
    """The stored answer to a create carrying an ``Idempotency-Key`` (replayed on a retry)."""

    __tablename__ = "case_idempotency"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(80))  # whose keys: "user:<id>", "sta:key:<id>", ...
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONType)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def request_fingerprint(payload: Any) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys): equal requests, equal fingerprints."""
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def find_replay(session: Session, scope: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The stored answer for ``key`` from ``scope``; 409 when the key was used for another request."""
    row = session.scalar(
        select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    )
    if row is not None and row.request_hash != fingerprint:
        raise Conflict(
            "This Idempotency-Key was already used for a different request", code="idempotency_key_reused"
        )
    return row


def stored_row(
    scope: str,
    key: str,
    fingerprint: str,
    status: int,
    body: dict[str, Any],
    *,
    case_id: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The answer as a plain row of the store, for a caller inserting many rows at once (Core)."""
    return {
        "scope": scope,
        "key": key,
        "request_hash": fingerprint,
        "status": status,
        "body": body,
        "case_id": case_id,
        "created_at": at or utcnow(),
    }


def record(
    session: Session,
    scope: str,
    key: str,
    fingerprint: str,
    status: int,
    body: dict[str, Any],
    *,
    case_id: int | None = None,
    at: datetime | None = None,
) -> None:
    """Store the answer in the caller's transaction (it exists if and only if the entity does)."""
    session.add(
        IdempotencyRecord(**stored_row(scope, key, fingerprint, status, body, case_id=case_id, at=at))
    )


def prune(session: Session, now: datetime, ttl: timedelta = TTL) -> int:
    """Delete stored answers older than ``ttl`` (a later retry with the same key creates anew)."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - ttl))
    return int(getattr(result, "rowcount", 0) or 0)

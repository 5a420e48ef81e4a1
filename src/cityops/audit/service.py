"""Writing and reading the audit log.

Every state change calls :func:`record` in the same transaction as the change itself, so either both
are committed or neither is::

    before = snapshot(user)
    user.role = Role.SUPERVISOR
    record(session, principal, "user.update", "user", user.id, before=before, after=snapshot(user),
           request=request)
    session.commit()
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session

from cityops.audit.models import AuditEntry
from cityops.clock import utcnow
from cityops.ops.requests import current_request_id

if TYPE_CHECKING:
    from starlette.requests import Request

    from cityops.identity.policy import Principal

# Column names never copied into before/after snapshots (secrets and their digests).
SECRET_FIELDS = frozenset({"password_hash", "secret_hash", "token_hash", "csrf_token", "password"})
# Personal data is not copied into the append-only log either (a citizen may have their data deleted,
# which an undeletable copy would defeat): a snapshot keeps the field with the value "[redacted]".
# Who changed what stays visible; callers add ``changed_fields`` when the values differ (see
# cityops.identity.users.update_user).
PERSONAL_FIELDS = frozenset(
    {"phone", "email", "full_name", "reporter_name", "reporter_phone", "reporter_email", "contact"}
)
REDACTED = "[redacted]"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    return str(value)


def snapshot(
    obj: Any,
    *,
    exclude: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    redact: bool = True,
) -> dict[str, Any]:
    """The column values of an ORM object as JSON-safe data for before/after: never secrets, and
    personal fields (:data:`PERSONAL_FIELDS`) as ``"[redacted]"`` unless ``redact=False``."""
    skip = SECRET_FIELDS | set(exclude)
    mapper = inspect(obj).mapper
    out: dict[str, Any] = {}
    for attr in mapper.column_attrs:
        if attr.key in skip:
            continue
        value = getattr(obj, attr.key)
        if redact and attr.key in PERSONAL_FIELDS and value not in (None, ""):
            out[attr.key] = REDACTED
        else:
            out[attr.key] = _jsonable(value)
    if extra:
        out.update({k: _jsonable(v) for k, v in extra.items()})
    return out


def _actor(actor: Principal | None) -> tuple[str, str | None, str | None]:
    if actor is None:
        return "system", None, "system"
    if actor.user_id is not None:
        return "user", str(actor.user_id), actor.label
    if actor.api_key_id is not None:
        return "api_key", str(actor.api_key_id), actor.label
    return "anonymous", None, "anonymous"


def _request_meta(request: Request | None) -> tuple[str | None, str | None]:
    # The request id comes from the ops middleware's context variable, so it is known even when the
    # caller (a service deep below the route) passes no request.
    request_id = current_request_id()
    if request is None:
        return None, (request_id[:64] if request_id else None)
    ip = request.client.host if request.client else None
    return ip, (request_id[:64] if request_id else None)


_DEFER_FLUSH = "cityops.audit.defer_flush"


@contextmanager
def deferred_flush(session: Session) -> Iterator[None]:
    """Inside, :func:`record` adds its entry without flushing: a caller that writes many records in one
    transaction (group commit of report submissions) flushes once, so the inserts go out as one batch per
    table instead of one statement each. The caller must flush before it reads the entries' ids."""
    previous = session.info.get(_DEFER_FLUSH, False)
    session.info[_DEFER_FLUSH] = True
    try:
        yield
    finally:
        session.info[_DEFER_FLUSH] = previous


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: object | None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    request: Request | None = None,
    *,
    label: str | None = None,
) -> AuditEntry:
    """Add one audit entry to ``session`` (flushed, not committed: the caller's transaction decides;
    not flushed inside :func:`deferred_flush`).

    ``actor`` None means the system itself (CLI, demo loader, background jobs); pass ``label`` to
    say which (``"cli"``). ``before``/``after`` are made JSON-safe; build them with :func:`snapshot`.
    """
    actor_type, actor_id, actor_label = _actor(actor)
    ip, request_id = _request_meta(request)
    entry = AuditEntry(
        at=utcnow(),
        actor_type=actor_type,
        actor_id=actor_id,
        actor_label=(label or actor_label or "")[:128] or None,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=_jsonable(dict(before)) if before is not None else None,
        after=_jsonable(dict(after)) if after is not None else None,
        ip=ip,
        request_id=request_id,
    )
    session.add(entry)
    if not session.info.get(_DEFER_FLUSH, False):
        session.flush()
    return entry


def query(
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    actor_type: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> Select[AuditEntry]:
    """Entries matching the filters, newest first (keyset-paginate with ``before_id``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if target_type:
        stmt = stmt.where(AuditEntry.target_type == target_type)
    if target_id:
        stmt = stmt.where(AuditEntry.target_id == target_id)
    if actor_type:
        stmt = stmt.where(AuditEntry.actor_type == actor_type)
    if actor_id:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if action:
        # "user" matches user.create, user.update…; "user.create" matches itself.
        stmt = stmt.where(
            (AuditEntry.action == action) | AuditEntry.action.startswith(action + ".", autoescape=True)
        )
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return stmt


def history(session: Session, target_type: str, target_id: object) -> list[AuditEntry]:
    """All entries about one object, oldest first (for a case's or a user's history)."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.target_type == target_type, AuditEntry.target_id == str(target_id))
        .order_by(AuditEntry.id)
    )
    return list(session.scalars(stmt))

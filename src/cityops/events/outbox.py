"""Transactional outbox: "writes once, emits one event after commit".

A write path calls :func:`emit` with its own session, before it commits::

    case = Case(...)
    session.add(case)
    emit(session, "cases.created", {"case_id": case.id})
    session.commit()

The event is a row of the same transaction, so it exists if and only if the change does. After the
commit, :class:`OutboxRelay` publishes pending rows in ``id`` order to the bus and marks them published.
It is woken by SQLAlchemy's ``after_commit`` session event, sweeps periodically, and sweeps once at
start-up, so rows left by a crash (or a bus that was down) are published later. Nothing is lost; an
event may be published twice if the process dies between publish and mark, which consumers tolerate
(at-least-once delivery, idempotent on the event id; NATS also de-duplicates by ``Nats-Msg-Id``).

On PostgreSQL several workers may run a relay: each claims rows with ``FOR UPDATE SKIP LOCKED`` and
publishes only when it holds the oldest pending rows, so order is kept while one worker relays and
another takes over as soon as it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
import weakref
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Text, cast, delete, event, func, literal, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.db import is_postgres
from cityops.events.bus import Event, EventBus, validate_subject
from cityops.events.models import OutboxEvent

log = logging.getLogger("cityops.events.outbox")

_PENDING = "cityops.outbox.pending"
MAX_PAYLOAD_BYTES = 768 * 1024
_relays: weakref.WeakSet[OutboxRelay] = weakref.WeakSet()
# One relay at a time per database inside a process (other processes are kept apart by row locks).
_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


def emit(session: Session, subject: str, payload: dict[str, Any]) -> None:
    """Add an event to ``session``'s transaction; it is published after commit, never on rollback.

    ``payload`` must be JSON-serialisable (datetimes become ISO 8601 strings, UUIDs strings) and at most
    :data:`MAX_PAYLOAD_BYTES` once serialised: a larger event could never be published on NATS (1 MiB
    messages by default) and would hold up every event after it, so it is refused here, where the writer
    can still split it (one event per chunk of a large batch).
    """
    validate_subject(subject)
    try:
        raw = orjson.dumps(payload, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise ValueError(f"event payload for {subject!r} is not JSON-serialisable: {exc}") from None
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"event payload for {subject!r} is {len(raw)} bytes, more than {MAX_PAYLOAD_BYTES}: "
            "emit one event per chunk"
        )
    if raw[:1] != b"{":  # orjson writes an object, and only an object, starting with "{"
        raise ValueError(f"event payload for {subject!r} must be an object")
    # The serialised text is stored as it is (no parse back, no second serialisation by the JSON
    # column type): a SQL expression as the attribute value is inlined into the ORM's INSERT.
    text_value = literal(raw.decode(), Text)
    stored: Any = cast(text_value, JSONB) if is_postgres(session) else text_value
    session.add(
        OutboxEvent(
            event_id=str(uuid.uuid4()), subject=subject, payload=stored, occurred_at=utcnow(), attempts=0
        )
    )
    session.info[_PENDING] = True


@event.listens_for(Session, "after_commit")
def _wake_relays_after_commit(session: Session) -> None:
    if not session.info.pop(_PENDING, False):
        return
    bind = session.bind
    url = str(bind.engine.url) if bind is not None else None
    for relay in list(_relays):
        if url is None or relay.url == url:
            relay.wake()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _process_lock(url: str) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(url, threading.Lock())


class Claimed(NamedTuple):
    """A pending outbox row claimed by the relay, with its payload still as stored JSON text."""

    id: int
    event_id: str
    subject: str
    payload_text: str
    occurred_at: datetime

    def event(self) -> Event:
        return Event(self.subject, id=self.event_id, occurred_at=self.occurred_at, raw=self.payload_text)


class OutboxRelay:
    """Publishes committed outbox rows to ``bus`` in order; see the module docstring."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        bus: EventBus,
        *,
        sweep_seconds: float = 5.0,
        retention: timedelta = timedelta(hours=72),
        batch_size: int = 100,
        prune_every_seconds: float = 600.0,
        retry_soon_seconds: float = 0.2,
    ) -> None:
        self.sessions = sessions
        self.bus = bus
        self.sweep_seconds = sweep_seconds
        self.retention = retention
        self.batch_size = batch_size
        self.prune_every_seconds = prune_every_seconds
        self.retry_soon_seconds = retry_soon_seconds
        engine = sessions.kw.get("bind")
        self.url = str(engine.url) if engine is not None else ""
        self._lock = asyncio.Lock()
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._retry_soon = False
        self._last_prune = 0.0

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Sweep once (events left by a crash), then relay on every commit and every sweep interval."""
        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._stopping = False
        _relays.add(self)
        await self._sweep()
        self._task = asyncio.create_task(self._run(), name="cityops-outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        _relays.discard(self)
        if self._wakeup is not None:
            self._wakeup.set()
        if self._task is not None:
            await self._task
            self._task = None

    def stopping(self) -> bool:
        return self._stopping

    def wake(self) -> None:
        """Ask the relay to publish now (thread-safe; called after every commit that emitted)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed between the check and the call
            loop.call_soon_threadsafe(wakeup.set)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while not self._stopping:
            timeout = self.retry_soon_seconds if self._retry_soon else self.sweep_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=timeout)
            self._wakeup.clear()
            if self.stopping():
                break
            await self._sweep()

    async def _sweep(self) -> None:
        try:
            await self.relay_pending()
            if time.monotonic() - self._last_prune >= self.prune_every_seconds:
                self._last_prune = time.monotonic()
                await asyncio.to_thread(self.prune)
        except Exception:  # the database may be down for a while: log, and try again next sweep
            log.exception("outbox sweep failed")

    # -- the work -------------------------------------------------------------------------------

    async def relay_pending(self) -> int:
        """Publish pending events in order until none is left or the bus fails; return how many."""
        published = 0
        async with self._lock:
            lock = _process_lock(self.url)
            if not lock.acquire(blocking=False):
                self._retry_soon = True
                return 0
            try:
                self._retry_soon = False
                while True:
                    count, more = await self._relay_batch()
                    published += count
                    if not more:
                        break
            finally:
                lock.release()
        return published

    async def _relay_batch(self) -> tuple[int, bool]:
        session = self.sessions()
        try:
            rows = await asyncio.to_thread(self._claim, session)
            if not rows:
                await asyncio.to_thread(session.rollback)
                return 0, False
            published: list[int] = []
            for row in rows:
                try:
                    await self.bus.publish(row.event())
                except Exception as exc:
                    log.warning(
                        "outbox publish failed; the event stays pending",
                        extra={"event_id": row.event_id, "subject": row.subject, "error": repr(exc)},
                    )
                    await asyncio.to_thread(self._mark, session, published, (row.id, repr(exc)[:2000]))
                    return len(published), False
                published.append(row.id)
            await asyncio.to_thread(self._mark, session, published, None)
            return len(published), len(rows) == self.batch_size
        finally:
            await asyncio.to_thread(session.close)

    @staticmethod
    def _mark(session: Session, published: list[int], failed: tuple[int, str] | None) -> None:
        """Mark ``published`` rows published, count a failed attempt on ``failed``, and commit."""
        if published:
            session.execute(
                update(OutboxEvent).where(OutboxEvent.id.in_(published)).values(published_at=utcnow())
            )
        if failed is not None:
            session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id == failed[0])
                .values(attempts=OutboxEvent.attempts + 1, last_error=failed[1])
            )
        session.commit()

    def _claim(self, session: Session) -> list[Claimed]:
        # Columns, not ORM entities, and the payload as text: the relay only passes it on, so it is
        # parsed (once) only if a consumer in this process reads it.
        payload_text = (
            cast(OutboxEvent.payload, Text)
            if is_postgres(session)
            else type_coerce(OutboxEvent.payload, Text)
        )
        query = (
            select(
                OutboxEvent.id,
                OutboxEvent.event_id,
                OutboxEvent.subject,
                payload_text,
                OutboxEvent.occurred_at,
            )
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
        )
        if not is_postgres(session):
            return [Claimed(*r) for r in session.execute(query)]
        rows = [Claimed(*r) for r in session.execute(query.with_for_update(skip_locked=True))]
        if rows:
            oldest = session.scalar(
                select(func.min(OutboxEvent.id)).where(OutboxEvent.published_at.is_(None))
            )
            if oldest is not None and oldest < rows[0].id:
                # Another worker holds older rows: publishing ours now would overtake them.
                session.rollback()
                self._retry_soon = True
                return []
        return rows

    def prune(self, now: datetime | None = None) -> int:
        """Delete rows published more than ``retention`` ago; pending rows are never deleted."""
        cutoff = (now or utcnow()) - self.retention
        with self.sessions() as session:
            result = session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.published_at.is_not(None), OutboxEvent.published_at < cutoff
                )
            )
            session.commit()
            return int(getattr(result, "rowcount", 0) or 0)

    def pending_count(self) -> int:
        with self.sessions() as session:
            return int(
                session.scalar(
                    select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
                )
                or 0
            )

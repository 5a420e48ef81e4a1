"""The transactional outbox on SQLite and PostgreSQL: committed events are published once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.events.bus import Event, EventBus, Handler, MemoryBus, Subscription
from cityops.events.models import OutboxEvent
from cityops.events.outbox import OutboxRelay, emit
from tests.events.buses import new_nats_bus, wait_until
from tests.services import require_nats


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)


class BrokerOutage:
    """A real bus behind a switch: while ``down``, publishing fails as it does when the broker is gone."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner
        self.down = False
        self.dead_letters = inner.dead_letters

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(self, event: Event) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        await self.inner.publish(event)

    async def subscribe(self, subject_filter: str, durable: str, handler: Handler) -> Subscription:
        return await self.inner.subscribe(subject_filter, durable, handler)

    def add_publish_listener(self, listener: object) -> None:
        raise NotImplementedError

    def add_delivery_listener(self, listener: object) -> None:
        raise NotImplementedError

    def is_ready(self) -> bool:
        return not self.down


@pytest.fixture
async def bus() -> AsyncIterator[BrokerOutage]:
    inner = MemoryBus()
    outage = BrokerOutage(inner)
    await outage.start()
    yield outage
    await outage.close()


def rows(sessions: sessionmaker[Session]) -> list[OutboxEvent]:
    with sessions() as s:
        return list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def commit_events(sessions: sessionmaker[Session], *names: str) -> None:
    with sessions() as s:
        for name in names:
            emit(s, "cases.created", {"name": name, "at": utcnow()})
        s.commit()


async def test_emit_and_commit_delivers_the_event_once(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-once", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)
    commit_events(sessions, "a")
    assert await relay.relay_pending() == 1
    assert await relay.relay_pending() == 0  # already published: not again
    await wait_until(lambda: len(got.events) == 1)
    await sub.stop()
    (row,) = rows(sessions)
    assert row.published_at is not None
    assert got.events[0].id == row.event_id
    assert got.events[0].payload["name"] == "a"
    assert isinstance(got.events[0].payload["at"], str)  # datetimes travel as ISO 8601


async def test_the_payload_is_stored_once_as_text_and_published_unchanged(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-text", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)
    payload = {"name": "Đức Hòa", "n": [1, 2.5, None], "nested": {"ok": True}, 7: "int key"}
    with sessions() as s:
        emit(s, "cases.created", payload)
        s.commit()
    (row,) = rows(sessions)
    expected = {"name": "Đức Hòa", "n": [1, 2.5, None], "nested": {"ok": True}, "7": "int key"}
    assert row.payload == expected  # the JSON column reads it back as before
    with sessions() as s:
        (claimed,) = relay._claim(s)
        assert isinstance(claimed.payload_text, str)  # the relay does not parse it
        s.rollback()
    assert await relay.relay_pending() == 1
    await wait_until(lambda: len(got.events) == 1)
    await sub.stop()
    assert got.events[0].payload == expected
    assert got.events[0].id == row.event_id


async def test_rollback_emits_nothing(sessions: sessionmaker[Session], bus: BrokerOutage) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-rollback", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)
    with sessions() as s:
        emit(s, "cases.created", {"name": "never"})
        s.flush()
        s.rollback()
    assert await relay.relay_pending() == 0
    await sub.stop()
    assert rows(sessions) == []
    assert got.events == []


async def test_a_failing_bus_leaves_events_pending_until_it_recovers(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-outage", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)
    bus.down = True
    commit_events(sessions, "first", "second", "third")
    assert await relay.relay_pending() == 0
    assert await relay.relay_pending() == 0
    pending = rows(sessions)
    assert [r.published_at for r in pending] == [None, None, None]
    assert pending[0].attempts == 2
    assert "broker unreachable" in (pending[0].last_error or "")
    assert relay.pending_count() == 3

    bus.down = False
    assert await relay.relay_pending() == 3
    await wait_until(lambda: len(got.events) == 3)
    await sub.stop()
    assert [e.payload["name"] for e in got.events] == ["first", "second", "third"]
    assert relay.pending_count() == 0


async def test_start_up_sweep_publishes_what_a_crash_left_behind(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    commit_events(sessions, "left-behind")  # committed while no relay ran
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-crash", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)
    await relay.start()
    try:
        await wait_until(lambda: len(got.events) == 1)
    finally:
        await relay.stop()
        await sub.stop()
    assert got.events[0].payload["name"] == "left-behind"
    assert relay.pending_count() == 0


async def test_a_commit_wakes_the_running_relay(sessions: sessionmaker[Session], bus: BrokerOutage) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-wake", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600)  # no sweep would come in time
    await relay.start()
    try:
        await asyncio.to_thread(commit_events, sessions, "woken")  # as a sync endpoint would
        await wait_until(lambda: len(got.events) == 1)
    finally:
        await relay.stop()
        await sub.stop()
    assert got.events[0].payload["name"] == "woken"


async def test_the_sweep_retries_after_an_outage(sessions: sessionmaker[Session], bus: BrokerOutage) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-sweep", got)
    relay = OutboxRelay(sessions, bus, sweep_seconds=0.05)
    bus.down = True
    await relay.start()
    try:
        await asyncio.to_thread(commit_events, sessions, "during-outage")
        await wait_until(lambda: rows(sessions)[0].attempts >= 1)
        bus.down = False
        await wait_until(lambda: len(got.events) == 1)
    finally:
        await relay.stop()
        await sub.stop()
    assert relay.pending_count() == 0


async def test_old_published_rows_are_pruned_pending_ones_kept(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    relay = OutboxRelay(sessions, bus, sweep_seconds=3600, retention=timedelta(hours=1))
    commit_events(sessions, "old", "recent")
    assert await relay.relay_pending() == 2
    with sessions() as s:
        old = s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).first()
        assert old is not None
        old.published_at = utcnow() - timedelta(hours=2)
        s.commit()
    bus.down = True
    commit_events(sessions, "pending")
    await relay.relay_pending()
    assert relay.prune() == 1
    assert [r.payload["name"] for r in rows(sessions)] == ["recent", "pending"]
    assert relay.prune(now=utcnow() + timedelta(days=30)) == 1  # "recent" goes; "pending" never does
    assert [r.payload["name"] for r in rows(sessions)] == ["pending"]


@pytest.mark.parametrize(
    ("subject", "payload", "message"),
    [
        ("cases.*", {}, "invalid event subject"),
        ("", {}, "invalid event subject"),
        ("cases.created", {"x": {1, 2}}, "not JSON-serialisable"),
        ("observations.created", {"rows": ["x" * 1000] * 800}, "emit one event per chunk"),
    ],
)
def test_emit_refuses_bad_input(  # nothing reaches the outbox, so nothing can block it
    sessions: sessionmaker[Session], subject: str, payload: dict[str, object], message: str
) -> None:
    with sessions() as s, pytest.raises(ValueError, match=message):
        emit(s, subject, payload)
    assert rows(sessions) == []


async def test_concurrent_relays_publish_each_event_once_in_order(
    sessions: sessionmaker[Session], bus: BrokerOutage
) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.>", "outbox-concurrent", got)
    names = [f"e{i:03d}" for i in range(60)]
    commit_events(sessions, *names)
    one = OutboxRelay(sessions, bus, batch_size=7)
    two = OutboxRelay(sessions, bus, batch_size=5)
    for _ in range(50):
        await asyncio.gather(one.relay_pending(), two.relay_pending())
        if one.pending_count() == 0:
            break
    await wait_until(lambda: len(got.events) >= len(names))
    await sub.stop()
    assert [e.payload["name"] for e in got.events] == names


async def test_outbox_through_nats_jetstream(sessions: sessionmaker[Session]) -> None:
    require_nats()
    nats_bus = new_nats_bus()
    await nats_bus.start()
    try:
        got = Recorder()
        sub = await nats_bus.subscribe("cases.>", "outbox-nats", got)
        relay = OutboxRelay(sessions, nats_bus, sweep_seconds=3600)
        await relay.start()
        await asyncio.to_thread(commit_events, sessions, "over-nats", "second")
        await wait_until(lambda: len(got.events) == 2)
        await relay.stop()
        # Publishing the same rows again (a crash between publish and mark) is de-duplicated by NATS.
        for row in rows(sessions):
            await nats_bus.publish(row.to_event())
        marker = Event("cases.marker")
        await nats_bus.publish(marker)
        await wait_until(lambda: got.events[-1].id == marker.id)
        await sub.stop()
        assert [e.payload.get("name") for e in got.events] == ["over-nats", "second", None]
    finally:
        await nats_bus.delete_stream()
        await nats_bus.close()


def test_postgres_workers_skip_locked_rows_without_overtaking(
    sessions: sessionmaker[Session], backend: object
) -> None:
    if getattr(backend, "name", "") != "postgresql":
        pytest.skip("row locks (FOR UPDATE SKIP LOCKED) are PostgreSQL's; SQLite runs one relay")
    commit_events(sessions, *[f"e{i}" for i in range(10)])
    relay = OutboxRelay(sessions, MemoryBus(), batch_size=4)
    worker_a, worker_b = sessions(), sessions()
    try:
        claimed_a = relay._claim(worker_a)
        assert [r.event().payload["name"] for r in claimed_a] == ["e0", "e1", "e2", "e3"]
        # B skips A's locked rows, finds e4.. but must not publish them before A's: it backs off.
        assert relay._claim(worker_b) == []
        worker_a.rollback()  # A stops (or dies) without publishing
        assert [r.event().payload["name"] for r in relay._claim(worker_b)] == ["e0", "e1", "e2", "e3"]
    finally:
        worker_a.close()
        worker_b.close()

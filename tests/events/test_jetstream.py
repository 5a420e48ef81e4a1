"""What only the NATS JetStream bus must show: durability across connections (process restarts)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cityops.events.bus import Event, make_bus
from cityops.events.jetstream import NatsBus
from cityops.settings import load_settings
from tests.events.buses import new_nats_bus, wait_until
from tests.services import require_nats


@pytest.fixture
def tag() -> str:
    require_nats()
    return uuid.uuid4().hex[:12]


async def _cleanup(tag: str) -> None:
    bus = new_nats_bus(tag)
    await bus.start()
    await bus.delete_stream()
    await bus.close()


async def test_a_restarted_consumer_receives_what_was_published_while_it_was_down(tag: str) -> None:
    try:
        first_process = new_nats_bus(tag)
        await first_process.start()
        seen: list[str] = []

        async def record(event: Event) -> None:
            seen.append(event.id)

        sub = await first_process.subscribe("cases.>", "restart", record)
        early = Event("cases.created")
        await first_process.publish(early)
        await wait_until(lambda: seen == [early.id])
        await sub.stop()
        await first_process.close()  # the consumer's process goes away

        publisher = new_nats_bus(tag)
        await publisher.start()
        meanwhile = [Event("cases.updated", {"i": i}) for i in range(5)]
        for event in meanwhile:
            await publisher.publish(event)
        await publisher.close()

        second_process = new_nats_bus(tag)
        await second_process.start()
        after: list[str] = []

        async def record_after(event: Event) -> None:
            after.append(event.id)

        sub = await second_process.subscribe("cases.>", "restart", record_after)
        await wait_until(lambda: len(after) == 5)
        await sub.stop()
        await second_process.close()
        assert after == [e.id for e in meanwhile]
    finally:
        await _cleanup(tag)


async def test_an_event_whose_handler_died_is_delivered_again(tag: str) -> None:
    """A consumer that crashes mid-handler never acks; after ack_wait the event comes back."""
    try:
        crashing = NatsBus(
            url=new_nats_bus(tag).url,
            stream=f"CITYOPS_T_{tag}",
            prefix=f"t{tag}",
            ack_wait=1,
            poll_seconds=0.2,
        )
        await crashing.start()
        started = asyncio.Event()

        async def hang(event: Event) -> None:
            started.set()
            await asyncio.Event().wait()  # never returns: the process is about to die

        await crashing.subscribe("alerts.>", "crash", hang)
        sent = Event("alerts.opened", {"level": "warning"})
        await crashing.publish(sent)
        await asyncio.wait_for(started.wait(), timeout=15)
        assert crashing._nc is not None
        await crashing._nc.close()  # die without acking (no orderly stop)
        for sub in list(crashing._subs):
            sub._task.cancel()

        survivor = NatsBus(
            url=crashing.url, stream=crashing.stream, prefix=crashing.prefix, ack_wait=1, poll_seconds=0.2
        )
        await survivor.start()
        got: list[Event] = []

        async def record(event: Event) -> None:
            got.append(event)

        sub = await survivor.subscribe("alerts.>", "crash", record)
        await wait_until(lambda: len(got) == 1)
        await sub.stop()
        await survivor.close()
        assert got[0].id == sent.id
    finally:
        await _cleanup(tag)


async def test_start_fails_clearly_when_nats_is_unreachable() -> None:
    bus = NatsBus(url="nats://127.0.0.1:1", stream="UNUSED", prefix="unused", connect_attempts=1)
    with pytest.raises(RuntimeError, match=r"cannot reach NATS at nats://127.0.0.1:1 \(CITYOPS_NATS_URL\)"):
        await bus.start()
    assert not bus.is_ready()


def test_make_bus_follows_the_settings() -> None:
    nats_settings = load_settings(env="test", bus="nats", nats_stream="S1", nats_subject_prefix="city.ops")
    bus = make_bus(nats_settings)
    assert isinstance(bus, NatsBus)
    assert (bus.stream, bus.prefix, bus.max_deliver) == ("S1", "city.ops", nats_settings.bus_max_deliver)
    assert type(make_bus(load_settings(env="test"))).__name__ == "MemoryBus"

"""Fixtures of the events tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cityops.events.bus import EventBus, MemoryBus
from tests.events.buses import MAX_DELIVER, new_nats_bus
from tests.services import require_nats


@pytest.fixture(params=["memory", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[EventBus]:
    """A started bus of each kind; a NATS one has its own stream and prefix, deleted afterwards."""
    if request.param == "memory":
        memory = MemoryBus(max_deliver=MAX_DELIVER)
        await memory.start()
        yield memory
        await memory.close()
        return
    require_nats()
    nats_bus = new_nats_bus()
    await nats_bus.start()
    try:
        yield nats_bus
    finally:
        await nats_bus.delete_stream()
        await nats_bus.close()

"""Bus fixtures for the events tests: the same contract runs against MemoryBus and NatsBus."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from cityops.events.jetstream import NatsBus
from tests.services import NATS_URL

MAX_DELIVER = 3


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll until ``predicate()`` holds; fail (not a timing assertion: a bound on a hang) after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def new_nats_bus(tag: str | None = None) -> NatsBus:
    tag = tag or uuid.uuid4().hex[:12]
    return NatsBus(
        url=NATS_URL,
        stream=f"CITYOPS_T_{tag}",
        prefix=f"t{tag}",
        ack_wait=5,
        max_deliver=MAX_DELIVER,
        poll_seconds=0.2,
        redeliver_delay=0.01,
    )


def wait_until_sync(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """:func:`wait_until` for synchronous tests (a bound on a hang, not a timing assertion)."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)

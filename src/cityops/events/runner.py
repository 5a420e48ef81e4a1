"""Runs what plugins declare for the server's lifetime: bus consumers and periodic background tasks.

No plugin hand-writes subscribe/stop code or an ``asyncio`` loop: it returns
:class:`~cityops.specs.EventConsumerSpec` from the ``event_consumers`` hook and
:class:`~cityops.specs.BackgroundTaskSpec` from ``background_tasks``, and the events plugin runs them with
one :class:`Runner` (started after the bus and the outbox relay, stopped before them).

A consumer's ``handle(sessions, event)`` runs in a worker thread, one event at a time per durable. When it
raises, the exception reaches the bus, which leaves the event unacknowledged and delivers it again
(``bus_max_deliver`` times, then dead-letters it: :mod:`cityops.events.bus`), so handlers are idempotent.
A task's ``run(sessions, settings)`` runs in a worker thread every ``interval_seconds``; an exception is
logged and the next run goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from cityops.specs import BackgroundTaskSpec, EventConsumerSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event, EventBus, Subscription
    from cityops.settings import Settings

log = logging.getLogger("cityops.events")


def declared_consumers(settings: Settings) -> list[EventConsumerSpec]:
    """Every consumer the plugins declare; a wrong declaration or a durable declared twice fails naming the
    plugin (so the app does not start with half its consumers)."""
    from cityops.events.bus import validate_durable, validate_filter
    from cityops.plugins import declarations
    from cityops.specs import SpecError

    found = declarations("event_consumers", EventConsumerSpec, settings=settings)
    for plugin, spec in found:
        try:
            validate_durable(spec.durable)
            validate_filter(spec.subject)
        except ValueError as exc:
            raise SpecError(f"plugin {plugin}: event consumer {spec.durable!r}: {exc}") from None
    return [spec for _, spec in found]


def declared_tasks(settings: Settings) -> list[BackgroundTaskSpec]:
    """Every background task the plugins declare (a wrong one fails naming the plugin)."""
    from cityops.plugins import declarations
    from cityops.specs import SpecError

    found = declarations("background_tasks", BackgroundTaskSpec, settings=settings)
    for plugin, spec in found:
        if spec.interval_seconds <= 0 or spec.initial_delay_seconds < 0:
            raise SpecError(
                f"plugin {plugin}: background task {spec.name!r} needs interval_seconds > 0 and "
                "initial_delay_seconds >= 0"
            )
    return [spec for _, spec in found]


class Runner:
    """Subscribes ``consumers`` to ``bus`` and loops ``tasks`` between :meth:`start` and :meth:`stop`."""

    def __init__(
        self,
        bus: EventBus,
        sessions: sessionmaker[Session],
        settings: Settings,
        consumers: Sequence[EventConsumerSpec] = (),
        tasks: Sequence[BackgroundTaskSpec] = (),
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.settings = settings
        self.consumers = tuple(consumers)
        self.tasks = tuple(tasks)
        self.subscriptions: list[Subscription] = []
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Subscribe every consumer (the bus must be started), then start every task's loop."""
        for spec in self.consumers:
            self.subscriptions.append(
                await self.bus.subscribe(spec.subject, spec.durable, self._handler(spec))
            )
        for task in self.tasks:
            self._loops.append(asyncio.create_task(self._loop(task), name=f"cityops-task-{task.name}"))

    async def stop(self) -> None:
        """Cancel the loops, then stop the subscriptions (each durable keeps its position on the bus)."""
        while self._loops:
            loop = self._loops.pop()
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        while self.subscriptions:
            sub = self.subscriptions.pop()
            try:
                await sub.stop()
            except Exception:  # one consumer failing to stop must not keep the others running
                log.exception("stopping consumer %s failed", sub.durable)

    def _handler(self, spec: EventConsumerSpec) -> Callable[[Event], Awaitable[None]]:
        sessions = self.sessions

        async def on_event(event: Event) -> None:
            await asyncio.to_thread(spec.handle, sessions, event)  # raising leaves the event unacknowledged

        return on_event

    async def _loop(self, task: BackgroundTaskSpec) -> None:
        await asyncio.sleep(task.initial_delay_seconds)
        while True:
            try:
                await asyncio.to_thread(task.run, self.sessions, self.settings)
            except Exception:
                log.exception("background task %s failed", task.name)
            await asyncio.sleep(task.interval_seconds)

"""Default plugin: the event bus, the outbox relay and the runner of declared consumers and tasks.

``app.state.bus`` exists from app creation (so other plugins can subscribe in their own
``app.state.async_startup`` entries); it is started first and closed last. ``app.state.outbox_relay``
publishes committed outbox rows. ``app.state.runner`` (:mod:`cityops.events.runner`) subscribes every
``event_consumers`` declaration right after the relay starts and runs every ``background_tasks`` loop
(except in the ``test`` environment, whose tests call the tasks themselves). All run in every worker
process. The declarations are read while the app is built, so a wrong one stops start-up naming the plugin.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import typer
from fastapi import FastAPI, Request

from cityops.events.bus import Event, make_bus
from cityops.events.outbox import OutboxRelay
from cityops.events.runner import Runner, declared_consumers, declared_tasks
from cityops.plugins import hookimpl
from cityops.settings import Environment, Settings


@hookimpl(tryfirst=True)
def register_routes(app: FastAPI, settings: Settings) -> None:
    bus = make_bus(settings)
    relay = OutboxRelay(
        app.state.sessions,
        bus,
        sweep_seconds=settings.outbox_sweep_seconds,
        retention=timedelta(hours=settings.outbox_retention_hours),
    )
    tasks = declared_tasks(settings) if settings.env is not Environment.TEST else []
    consumers = declared_consumers(settings)
    if not settings.run_consumers:  # they run in processes of their own (`cityops events consume`)
        consumers, tasks = [], []
    runner = Runner(bus, app.state.sessions, settings, consumers, tasks)
    app.state.bus = bus
    app.state.outbox_relay = relay
    app.state.runner = runner

    def count(event: Event) -> None:
        metrics = getattr(app.state, "metrics", None)  # installed by the ops plugin, after this hook
        if metrics is not None:
            metrics.events.labels(event.subject).inc()

    def count_handled(durable: str, event: Event, outcome: str) -> None:
        metrics = getattr(app.state, "metrics", None)
        if metrics is not None:
            metrics.handled.labels(durable, outcome).inc()

    bus.add_publish_listener(count)
    bus.add_delivery_listener(count_handled)

    async def start_bus(app: FastAPI) -> None:
        await bus.start()

    async def close_bus(app: FastAPI) -> None:
        await bus.close()

    async def start_relay(app: FastAPI) -> None:
        await relay.start()

    async def stop_relay(app: FastAPI) -> None:
        await relay.stop()

    async def start_runner(app: FastAPI) -> None:
        await runner.start()

    async def stop_runner(app: FastAPI) -> None:
        await runner.stop()

    # Run in order on start and reversed on stop: bus, relay, runner up, ... runner, relay, bus down.
    app.state.async_startup[:0] = [start_bus, start_relay, start_runner]
    app.state.async_shutdown[:0] = [close_bus, stop_relay, stop_runner]


def check_bus(request: Request) -> None:
    bus = request.app.state.bus
    if not bus.is_ready():
        raise RuntimeError(f"{type(bus).__name__} is not connected")


@hookimpl
def readiness_checks(app: FastAPI) -> list[tuple[str, Any]]:
    return [("bus", check_bus)]


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.events.cli import events_cli

    cli.add_typer(events_cli, name="events")

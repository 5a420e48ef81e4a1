"""Default plugin registration for alerts: the API, the observation consumer and the staleness sweep.

Rules follow the bus (DESIGN.md §3): the durable consumer ``alerts-rules`` takes ``observations.created``
events, groups the points by datastream and runs :func:`cityops.alerts.service.process_observations`
in a worker thread. Redelivery is harmless: points at or before a rule's last evaluated time are ignored.
A background task sweeps staleness rules every :data:`SWEEP_SECONDS`. The durable consumer
``alerts-delivery`` takes ``alerts.opened``/``alerts.escalated`` and sends them to the subscribers of the
alert's areas (:mod:`cityops.alerts.delivery`, through ``cityops.notify``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cityops.clock import utcnow
from cityops.db import session_scope
from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings

log = logging.getLogger("cityops.alerts")
SWEEP_SECONDS = 60.0
DURABLE = "alerts-rules"
DELIVERY_DURABLE = "alerts-delivery"


def points_by_datastream(payload: dict[str, Any]) -> dict[int, list[tuple[datetime, float]]]:
    """The numeric points of an ``observations.created`` payload, per datastream."""
    out: dict[int, list[tuple[datetime, float]]] = defaultdict(list)
    for obs in payload.get("observations", []):
        ds_id, result, when = obs.get("datastream_id"), obs.get("result"), obs.get("phenomenon_time")
        if ds_id is None or when is None or isinstance(result, bool) or not isinstance(result, int | float):
            continue
        out[int(ds_id)].append((datetime.fromisoformat(str(when).replace("Z", "+00:00")), float(result)))
    return out


def handle_observations(sessions: sessionmaker[Session], payload: dict[str, Any]) -> int:
    """Evaluate the rules for one ``observations.created`` payload; returns the number of alert changes."""
    from cityops.alerts.service import process_observations
    from cityops.errors import NotFound

    changes = 0
    with session_scope(sessions) as session:
        for ds_id, points in points_by_datastream(payload).items():
            try:
                changes += len(process_observations(session, ds_id, points))
            except NotFound:  # the datastream was deleted since
                continue
    return changes


def handle_alert_event(
    sessions: sessionmaker[Session], settings: Settings, subject: str, payload: dict[str, Any]
) -> int:
    """Deliver an ``alerts.opened``/``alerts.escalated`` event to the areas' subscribers."""
    from cityops.alerts.delivery import deliver_event

    with session_scope(sessions) as session:
        return deliver_event(session, settings, subject, payload)


def sweep(sessions: sessionmaker[Session], now: datetime | None = None) -> int:
    from cityops.alerts.service import sweep_staleness

    with session_scope(sessions) as session:
        return len(sweep_staleness(session, now or utcnow()))


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.alerts.api import router

    app.include_router(router)
    state: dict[str, Any] = {}

    async def start(app: FastAPI) -> None:
        bus = getattr(app.state, "bus", None)
        sessions = app.state.sessions
        if bus is not None:

            async def on_event(event: Event) -> None:
                await asyncio.to_thread(handle_observations, sessions, event.payload)

            state["subscription"] = await bus.subscribe("observations.created", DURABLE, on_event)

            async def on_alert(event: Event) -> None:
                await asyncio.to_thread(handle_alert_event, sessions, settings, event.subject, event.payload)

            state["delivery"] = await bus.subscribe("alerts.*", DELIVERY_DURABLE, on_alert)

        async def sweeper() -> None:
            while True:
                await asyncio.sleep(SWEEP_SECONDS)
                try:
                    await asyncio.to_thread(sweep, sessions)
                except Exception:  # keep sweeping; the error is logged
                    log.exception("staleness sweep failed")

        state["sweeper"] = asyncio.create_task(sweeper())

    async def stop(app: FastAPI) -> None:
        task = state.pop("sweeper", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for key in ("subscription", "delivery"):
            sub = state.pop(key, None)
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.stop()

    app.state.async_startup.append(start)
    app.state.async_shutdown.append(stop)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Install the rule templates every plugin declares (``rule_templates`` hook); idempotent."""
    from cityops.alerts.templates import RuleTemplate, install
    from cityops.plugins import plugin_manager

    templates = [
        tpl
        for group in plugin_manager().hook.rule_templates()
        for tpl in (group or [])
        if isinstance(tpl, RuleTemplate)
    ]
    created = install(session, templates)
    console.print(f"Alert rules: {len(created)} installed from {len(templates)} templates.")

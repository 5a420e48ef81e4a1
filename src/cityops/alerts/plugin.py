"""Default plugin registration for alerts: the API, the observation consumer and the staleness sweep.

Rules follow the bus (DESIGN.md §3): the durable consumer ``alerts-rules`` takes ``observations.created``
events, groups the points by datastream and runs :func:`cityops.alerts.service.process_observations`
in a worker thread. Redelivery is harmless: points at or before a rule's last evaluated time are ignored.
A background task sweeps staleness rules every :data:`SWEEP_SECONDS`. The durable consumer
``alerts-delivery`` takes ``alerts.opened``/``alerts.escalated`` and sends them to the subscribers of the
alert's areas (:mod:`cityops.alerts.delivery`, through ``cityops.notify``). Consumers and the sweep are
declarations the events capability runs (:mod:`cityops.events.runner`). The sectors' rule templates are
installed by ``sync_declarations``, so a deployment has them without the demo.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cityops.clock import utcnow
from cityops.db import session_scope
from cityops.plugins import hookimpl
from cityops.sensing.observation_events import SUBJECT, read_created
from cityops.specs import BackgroundTaskSpec, EventConsumerSpec, PersonalDataSpec

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


def points_by_datastream(
    payload: Mapping[str, Any], only: Callable[[int], bool] | None = None
) -> dict[int, list[tuple[datetime, float]]]:
    """The numeric points of an ``observations.created`` payload, per datastream.

    With ``only``, the other datastreams are left out before any of their times is parsed."""
    obs = read_created(payload)
    distinct = set(obs.datastreams)
    rows: dict[int, Iterable[int]]
    if len(distinct) == 1:  # the usual batch: one datastream
        rows = {next(iter(distinct)): range(len(obs))}
    else:
        rows = defaultdict(list)
        for i, ds_id in enumerate(obs.datastreams):
            rows[ds_id].append(i)  # type: ignore[attr-defined]
    out: dict[int, list[tuple[datetime, float]]] = {}
    for ds_id, positions in rows.items():
        if only is not None and not only(int(ds_id)):
            continue
        points = []
        for i in positions:
            result, when = obs.results[i], obs.phenomenon_times[i]
            if when is None or isinstance(result, bool) or not isinstance(result, int | float):
                continue
            points.append((datetime.fromisoformat(str(when).replace("Z", "+00:00")), float(result)))
        if points:
            out[int(ds_id)] = points
    return out


def handle_observations(sessions: sessionmaker[Session], payload: Mapping[str, Any]) -> int:
    """Evaluate the rules for one ``observations.created`` payload; returns the number of alert changes.

    Datastreams without any rule (most of them) are skipped before their times are parsed: which have one
    is decided for the whole batch in two statements (:func:`~cityops.alerts.service.datastreams_with_rules`)."""
    from cityops.alerts.service import datastreams_with_rules, process_observations
    from cityops.errors import NotFound

    changes = 0
    with session_scope(sessions) as session:
        ids = read_created(payload).datastreams
        targeted = datastreams_with_rules(session, (int(d) for d in ids if d is not None))
        if not targeted:
            return 0
        for ds_id, points in points_by_datastream(payload, targeted.__contains__).items():
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
    from cityops.alerts.push import router as push_router

    app.include_router(router)
    app.include_router(push_router)


def _on_observations(sessions: sessionmaker[Session], event: Event) -> None:
    handle_observations(sessions, event.payload)


@hookimpl
def event_consumers(settings: Settings) -> list[EventConsumerSpec]:
    def on_alert(sessions: sessionmaker[Session], event: Event) -> None:
        handle_alert_event(sessions, settings, event.subject, event.payload)

    return [
        EventConsumerSpec(
            DURABLE, SUBJECT, _on_observations, "evaluates the alert rules on new observations"
        ),
        EventConsumerSpec(
            DELIVERY_DURABLE, "alerts.*", on_alert, "sends opened and escalated alerts to area subscribers"
        ),
    ]


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    return [
        BackgroundTaskSpec(
            "alerts-staleness",
            SWEEP_SECONDS,
            lambda sessions, settings: sweep(sessions),
            initial_delay_seconds=SWEEP_SECONDS,
            description="opens and clears staleness alerts of silent datastreams",
        )
    ]


@hookimpl
def sync_declarations(session: Session) -> None:
    """Install the rule templates every plugin declares (``rule_templates`` hook), each once by code."""
    from cityops.alerts.templates import declared_templates, install

    install(session, declared_templates())


@hookimpl
def personal_data() -> list[PersonalDataSpec]:
    from cityops.alerts.personal_data import SPEC

    return [SPEC]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Install the rule templates every plugin declares (``rule_templates`` hook); idempotent."""
    from cityops.alerts.templates import declared_templates, install

    templates = declared_templates()
    created = install(session, templates)
    console.print(f"Alert rules: {len(created)} installed from {len(templates)} templates.")

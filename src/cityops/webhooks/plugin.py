"""Default plugin registration for webhooks: the admin routes, the queueing consumers and the delivery task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.db import session_scope
from cityops.plugins import hookimpl
from cityops.specs import BackgroundTaskSpec, EventConsumerSpec

if TYPE_CHECKING:
    from fastapi import FastAPI
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.events.bus import Event
    from cityops.settings import Settings

DELIVER_SECONDS = 5.0


def on_event(sessions: sessionmaker[Session], event: Event) -> None:
    """Queue one bus event for the subscriptions to its type (idempotent)."""
    from cityops.webhooks.service import enqueue

    with session_scope(sessions) as session:
        enqueue(session, event)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.webhooks.api import router

    app.include_router(router)


@hookimpl
def event_consumers() -> list[EventConsumerSpec]:
    return [
        EventConsumerSpec("webhooks-cases", "cases.*", on_event, "queues case events for webhooks"),
        EventConsumerSpec("webhooks-alerts", "alerts.*", on_event, "queues alert events for webhooks"),
        EventConsumerSpec(
            "webhooks-observations", "observations.created", on_event, "queues observations for webhooks"
        ),
    ]


def _deliver(sessions: sessionmaker[Session], settings: Settings) -> None:
    from cityops.webhooks.service import deliver_due, purge_sent

    deliver_due(sessions)
    with session_scope(sessions) as session:
        purge_sent(session)


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    return [
        BackgroundTaskSpec(
            "webhooks-deliver",
            DELIVER_SECONDS,
            _deliver,
            description="sends due webhook deliveries (back-off, dead letters), purges old sent ones",
        )
    ]

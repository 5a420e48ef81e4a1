"""Default plugin registration for NGSI-LD: routes, ProblemDetails handler, the subscriptions' consumer and
delivery task."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI

    from cityops.settings import Settings
    from cityops.specs import BackgroundTaskSpec, EventConsumerSpec


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.ngsild import api, operations, subscriptions, temporal
    from cityops.ngsild.errors import NgsiError, handle

    app.add_exception_handler(NgsiError, handle)
    app.include_router(api.router)
    app.include_router(operations.router)
    app.include_router(temporal.router)
    app.include_router(subscriptions.router)


@hookimpl
def event_consumers(settings: Settings) -> list[EventConsumerSpec]:
    """Entity, place and observation changes matched against the subscriptions (off the request path)."""
    from cityops.ngsild.subscriptions import match_event
    from cityops.specs import EventConsumerSpec

    return [
        EventConsumerSpec("ngsild-entities", "ngsild.entity.changed", match_event, "NGSI-LD subscriptions"),
        EventConsumerSpec("ngsild-places", "places.>", match_event, "NGSI-LD subscriptions"),
        EventConsumerSpec(
            "ngsild-observations", "observations.created", match_event, "NGSI-LD subscriptions"
        ),
    ]


@hookimpl
def background_tasks(settings: Settings) -> list[BackgroundTaskSpec]:
    """Send the due notifications (retries with back-off; pending rows survive a restart)."""
    from cityops.ngsild.subscriptions import deliver_due
    from cityops.specs import BackgroundTaskSpec

    return [
        BackgroundTaskSpec("ngsild-notifications", 5.0, lambda sessions, _settings: deliver_due(sessions))
    ]

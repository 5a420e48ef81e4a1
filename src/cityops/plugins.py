"""Plugin hooks (pluggy). Core capabilities, sectors and third-party packages all register the same way.

A built-in capability is a *default plugin* listed in :data:`DEFAULT_PLUGINS` (as in Datasette);
third-party plugins declare an entry point in the ``cityops`` group. The core never imports a sector.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import (
        BackgroundTaskSpec,
        DashboardPanelSpec,
        EventConsumerSpec,
        IndicatorSetSpec,
        IndicatorSpec,
        PersonalDataSpec,
        PlaceTypeSpec,
    )

hookspec = pluggy.HookspecMarker("cityops")
hookimpl = pluggy.HookimplMarker("cityops")

DEFAULT_PLUGINS: tuple[str, ...] = (
    "cityops.ops.plugin",
    "cityops.security.plugin",
    "cityops.events.plugin",
    "cityops.areas.plugin",
    "cityops.identity.plugin",
    "cityops.audit.plugin",
    "cityops.media.plugin",
    "cityops.notify.plugin",
    "cityops.reports.plugin",
    "cityops.sensing.plugin",
    "cityops.alerts.plugin",
    "cityops.backup.plugin",
    "cityops.privacy.plugin",
    "cityops.web.plugin",
    "cityops.sectors.environment.plugin",
    "cityops.demo.plugin",
)


class Hooks:
    """Hook specifications. Each is documented in docs/plugins.md (a test checks it)."""

    @hookspec
    def register_routes(self, app: FastAPI, settings: Settings) -> None:
        """Mount API routers and pages on the application."""

    @hookspec
    def register_cli(self, cli: typer.Typer) -> None:
        """Add sub-commands to the ``cityops`` command."""

    @hookspec
    def startup(self, app: FastAPI) -> None:
        """Called once when the application starts (after the database and bus are ready)."""

    @hookspec
    def shutdown(self, app: FastAPI) -> None:
        """Called once when the application stops, before the bus closes."""

    @hookspec
    def readiness_checks(self, app: FastAPI) -> list[tuple[str, Any]]:
        """Return ``(name, callable)`` pairs; ``/readyz`` fails while any callable raises."""

    @hookspec
    def load_demo(self, session: Session, settings: Settings, console: Console) -> None:
        """Load this plugin's part of the pilot demo data (idempotent)."""

    @hookspec
    def case_categories(self) -> list[Any]:
        """Case categories a sector adds (with extra questions and SLA)."""

    @hookspec
    def place_types(self) -> list[PlaceTypeSpec]:
        """Place types a sector adds."""

    @hookspec
    def observed_properties(self) -> list[Any]:
        """Observed properties (with UCUM units) a sector adds."""

    @hookspec
    def rule_templates(self) -> list[Any]:
        """Alert rule templates a sector adds."""

    @hookspec
    def indicators(self) -> list[IndicatorSpec]:
        """Indicators a plugin adds (computed from cases, observations or places, or entered by hand)."""

    @hookspec
    def indicator_sets(self) -> list[IndicatorSetSpec]:
        """Published indicator sets a plugin adds (indicators name their sets by code)."""

    @hookspec
    def dashboard_panels(self) -> list[DashboardPanelSpec]:
        """Panels a sector adds to the IOC."""

    @hookspec
    def event_consumers(self) -> list[EventConsumerSpec]:
        """Durable bus consumers; the events capability starts and stops them."""

    @hookspec
    def background_tasks(self) -> list[BackgroundTaskSpec]:
        """Periodic jobs run with the server; the events capability starts and stops them."""

    @hookspec
    def personal_data(self) -> list[PersonalDataSpec]:
        """The personal data a capability holds: export, erase and retention (read by ``privacy/``)."""

    @hookspec
    def alert_channels(self, settings: Settings) -> list[Any]:
        """Alert/notification channels (web push, SMS, email, IOC stream)."""


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("cityops")
    pm.add_hookspecs(Hooks)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints("cityops")
    return pm

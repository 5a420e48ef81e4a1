"""Plugin hooks (pluggy). Core capabilities, sectors and third-party packages all register the same way.

A built-in capability is a *default plugin* listed in :data:`DEFAULT_PLUGINS` (as in Datasette);
third-party plugins declare an entry point in the ``cityops`` group. The core never imports a sector.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings
    from cityops.specs import (
        BackgroundTaskSpec,
        CategorySpec,
        DashboardPanelSpec,
        EventConsumerSpec,
        ForecastTargetSpec,
        IndicatorCalculatorSpec,
        IndicatorSetSpec,
        IndicatorSpec,
        PersonalDataSpec,
        PlaceTypeSpec,
        PropertySpec,
        RuleTemplate,
        StationSpec,
    )

hookspec = pluggy.HookspecMarker("cityops")
hookimpl = pluggy.HookimplMarker("cityops")

DEFAULT_PLUGINS: tuple[str, ...] = (
    "cityops.ops.plugin",
    "cityops.security.plugin",
    "cityops.events.plugin",
    "cityops.replicas",
    "cityops.areas.plugin",
    "cityops.places.plugin",
    "cityops.identity.plugin",
    "cityops.audit.plugin",
    "cityops.media.plugin",
    "cityops.notify.plugin",
    "cityops.indicators.plugin",
    "cityops.reports.plugin",
    "cityops.sensing.plugin",
    "cityops.alerts.plugin",
    "cityops.ngsild.plugin",
    "cityops.webhooks.plugin",
    "cityops.programmes.plugin",
    "cityops.admin.plugin",
    "cityops.basemap.plugin",
    "cityops.backup.plugin",
    "cityops.privacy.plugin",
    "cityops.web.plugin",
    "cityops.sectors.environment.plugin",
    "cityops.sectors.traffic.plugin",
    "cityops.sectors.agriculture.plugin",
    "cityops.sectors.public_order.plugin",
    "cityops.sectors.health.plugin",
    "cityops.sectors.education.plugin",
    "cityops.sectors.tourism.plugin",
    "cityops.sectors.public_services.plugin",
    "cityops.forecasting.plugin",  # after the sectors: its demo forecasts their stations
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
    def sync_declarations(self, session: Session) -> None:
        """Write this plugin's share of the declarations into its tables (categories, rule templates,
        observed properties, place types, indicators), idempotently, in the caller's transaction. Run by
        ``cityops db upgrade`` and when the app starts (not in the ``test`` environment), so a deployment
        that never loads the demo still has its sectors' declarations."""

    @hookspec
    def case_categories(self) -> list[CategorySpec]:
        """Case categories a sector adds (with extra questions and SLA); reports syncs them into its table."""

    @hookspec
    def place_types(self) -> list[PlaceTypeSpec]:
        """Place types a sector adds."""

    @hookspec
    def areas_changed(self, session: Session) -> None:
        """Area units or boundaries changed (a load, an official import), in the same transaction: a capability
        that stores area ids resolved from coordinates re-resolves them here (areas imports none of them)."""

    @hookspec
    def observed_properties(self) -> list[PropertySpec]:
        """Observed properties (with UCUM units) a sector adds; sensing keeps one STA ObservedProperty per code."""

    @hookspec
    def demo_stations(self) -> list[StationSpec]:
        """Demo monitoring stations a sector ships, each with the model simulating it (``cityops simulate``)."""

    @hookspec
    def rule_templates(self) -> list[RuleTemplate]:
        """Alert rule templates a sector adds; alerts installs each once as a rule an admin may then edit."""

    @hookspec
    def indicators(self) -> list[IndicatorSpec]:
        """Indicators a plugin adds (computed from cases, observations or places, or entered by hand)."""

    @hookspec
    def indicator_sets(self) -> list[IndicatorSetSpec]:
        """Published indicator sets a plugin adds (indicators name their sets by code)."""

    @hookspec
    def indicator_calculators(self) -> list[IndicatorCalculatorSpec]:
        """Calculators of computed indicators (an indicator's ``method``), with the bus subjects whose events
        make a cell stale; the indicators capability recomputes just the cells an event touched. A calculator
        with ``by_agency`` also gives per-agency cells to the indicators declared ``by_agency=True`` (see
        docs/indicators.md, "Agency breakdown")."""

    @hookspec
    def dashboard_panels(self) -> list[DashboardPanelSpec]:
        """Panels a sector adds to the IOC (``DashboardPanelSpec``): indicator tiles or charts, latest values,
        place layers, or a ``map_layer`` — a GeoJSON path of the sector's own API drawn with a legend and a
        layer toggle, fetched with ``area_id=`` when the IOC drills into an area. ``audience="staff"`` panels
        are listed to signed-in staff only."""

    @hookspec
    def event_consumers(self, settings: Settings) -> list[EventConsumerSpec]:
        """Durable bus consumers; the events capability subscribes them after the bus starts and stops them
        before it closes (``settings`` is the app's, for a handler that needs it; the argument is optional)."""

    @hookspec
    def background_tasks(self, settings: Settings) -> list[BackgroundTaskSpec]:
        """Periodic jobs run with the server (not in the ``test`` environment, whose tests call them); the
        events capability starts and stops them."""

    @hookspec
    def personal_data(self) -> list[PersonalDataSpec]:
        """The personal data a capability holds: export, erase and retention (read by ``privacy/``)."""

    @hookspec
    def alert_channels(self, settings: Settings) -> list[Any]:
        """Alert/notification channels (web push, SMS, email, IOC stream)."""

    @hookspec
    def forecast_targets(self) -> list[ForecastTargetSpec]:
        """The series a sector wants forecast (``ForecastTargetSpec``: station, property, method, lead
        times); ``cityops/forecasting/`` fits, backtests and publishes each as forecast Datastreams."""


T = TypeVar("T")


def declarations(hook: str, spec_type: type[T], **kwargs: Any) -> list[tuple[str, T]]:
    """Every ``(plugin name, spec)`` a declaration hook returns, in registration order.

    ``kwargs`` are the hook's arguments (for example ``settings``); each implementation gets those it names.
    A wrong declaration (not a list, or an item of another type, or two specs with one ``code``) raises
    :class:`~cityops.specs.SpecError` naming the plugin, so a broken sector fails at start-up, not later.
    """
    from cityops.specs import SpecError

    pm = plugin_manager()
    caller = getattr(pm.hook, hook)
    found: list[tuple[str, T]] = []
    seen: dict[Any, str] = {}
    # get_hookimpls() lists them in registration order (pluggy *calls* them in reverse: last registered first)
    for impl in caller.get_hookimpls():
        result = impl.function(*[kwargs[name] for name in impl.argnames])
        if result is None:
            continue
        if not isinstance(result, list | tuple):
            raise SpecError(
                f"plugin {impl.plugin_name}: hook {hook} returned {type(result).__name__}, not a list"
            )
        for item in result:
            if not isinstance(item, spec_type):
                raise SpecError(
                    f"plugin {impl.plugin_name}: hook {hook} returned a {type(item).__name__}, "
                    f"expected {spec_type.__name__}"
                )
            key = getattr(item, "code", None) or getattr(item, "durable", None) or getattr(item, "name", None)
            if key is not None:
                if key in seen:
                    raise SpecError(
                        f"plugin {impl.plugin_name}: hook {hook} declares {key!r}, already declared by {seen[key]}"
                    )
                seen[key] = impl.plugin_name
            found.append((impl.plugin_name, item))
    return found


def sync_declarations(sessions: sessionmaker[Session]) -> None:
    """Run every plugin's ``sync_declarations`` in one transaction (all of them or none).

    Called by ``cityops db upgrade`` (once per deployment, right after the schema is current, in one
    process) and at app start (a sector installed or upgraded without a migration gets its rows; with
    several workers the first to commit wins and the others find nothing left to write).
    """
    from cityops.db import session_scope

    with session_scope(sessions) as session:
        plugin_manager().hook.sync_declarations(session=session)


@cache
def plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("cityops")
    pm.add_hookspecs(Hooks)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    pm.load_setuptools_entrypoints("cityops")
    return pm

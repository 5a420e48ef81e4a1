"""Default plugin registration for reports: the fallback case category, routes, CLI and demo data."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl
from cityops.specs import (
    BackgroundTaskSpec,
    CategorySpec,
    IndicatorCalculatorSpec,
    IndicatorSpec,
    PersonalDataSpec,
)

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings

log = logging.getLogger("cityops.reports")

#: The core keeps only the fallback category: every other one is declared by its sector's folder
#: (``cityops.sectors.<sector>.specs``), so a deployment without a sector does not offer its categories.
DEFAULT_CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("other", "Khác", "Other", sla_hours=40, order=999),
)


@hookimpl
def case_categories() -> list[CategorySpec]:
    return list(DEFAULT_CATEGORIES)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.media.api import install_access_policy
    from cityops.reports import api, citizen_auth, open311
    from cityops.reports.media_access import case_media_access

    app.include_router(api.router)
    app.include_router(citizen_auth.router)
    open311.install(app)
    install_access_policy(app, case_media_access)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.reports.cli import reports_cli

    cli.add_typer(reports_cli, name="reports")


SLA_SWEEP_SECONDS = 300  # the sweep is idempotent; every five minutes is precise enough for working hours


def sla_pass(sessions: sessionmaker[Session], settings: Settings) -> None:
    """One SLA sweep (warnings, escalations) and the pruning of expired idempotency records."""
    from cityops.clock import utcnow
    from cityops.db import session_scope, write_turn
    from cityops.idempotency import prune as prune_idempotency
    from cityops.reports.sla import sweep_in_chunks

    sweep_in_chunks(sessions, utcnow(), settings)
    with session_scope(sessions) as session, write_turn(session):
        prune_idempotency(session, utcnow())
        session.commit()


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    """The SLA sweep (tests call :func:`~cityops.reports.sla.sweep_sla` with an explicit ``now`` instead)."""
    return [
        BackgroundTaskSpec(
            "reports-sla", SLA_SWEEP_SECONDS, sla_pass, description="SLA warnings and escalations"
        )
    ]


@hookimpl
def sync_declarations(session: Session) -> None:
    """Upsert the declared case categories (``case_categories`` hook) into their table."""
    from cityops.reports.categories import sync_categories

    sync_categories(session)


@hookimpl
def personal_data() -> list[PersonalDataSpec]:
    from cityops.reports.personal_data import SPEC

    return [SPEC]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    from cityops.reports.demo import load

    load(session, settings, console)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """The case indicators (on-time rate, handling time, satisfaction, reports per 10,000 residents, ...)."""
    from cityops.reports.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.reports.indicators import calculators

    return calculators()

"""The indicators capability as a plugin: routes, CLI, start-up sync, consumers, the stale sweep, demo."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl
from cityops.specs import BackgroundTaskSpec, EventConsumerSpec, IndicatorSetSpec, IndicatorSpec

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session, sessionmaker

    from cityops.settings import Settings

REFRESH_SECONDS = 300.0


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.indicators.api import router
    from cityops.indicators.populations import router as populations

    app.include_router(router)
    app.include_router(populations)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.indicators.cli import indicators_cli

    cli.add_typer(indicators_cli, name="indicators")


@hookimpl
def sync_declarations(session: Session) -> None:
    """Sync the declared sets and indicators; a wrong declaration stops the start naming its plugin."""
    from cityops.indicators.registry import sync

    sync(session)


@hookimpl
def indicator_sets() -> list[IndicatorSetSpec]:
    from cityops.indicators.catalogue import sets

    return sets()


@hookimpl
def indicators() -> list[IndicatorSpec]:
    """The indicators entered by hand (what no data of the platform can compute)."""
    from cityops.indicators.catalogue import manual_indicators

    return manual_indicators()


def durable_for(subject: str) -> str:
    """The durable name of the consumer of a subject filter (``cases.>`` → ``indicators-cases-all``)."""
    return "indicators-" + re.sub(r"[^A-Za-z0-9_-]", "-", subject.replace(">", "all").replace("*", "any"))


@hookimpl
def event_consumers() -> list[EventConsumerSpec]:
    """One durable consumer per subject the calculators listen to; each recomputes the cells it touched."""
    from cityops import plugins
    from cityops.indicators.engine import handle
    from cityops.specs import IndicatorCalculatorSpec

    subjects = sorted(
        {
            s
            for _p, c in plugins.declarations("indicator_calculators", IndicatorCalculatorSpec)
            for s in c.subjects
        }
    )
    return [
        EventConsumerSpec(durable_for(s), s, handle, f"indicator cells made stale by {s}") for s in subjects
    ]


def _refresh(sessions: sessionmaker[Session], settings: Settings) -> object:
    from cityops.db import session_scope
    from cityops.indicators.engine import refresh_stale

    with session_scope(sessions) as session:
        return refresh_stale(session)


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    return [
        BackgroundTaskSpec(
            "indicators.refresh_stale",
            REFRESH_SECONDS,
            _refresh,
            30.0,
            "recompute cells a failed update left stale",
        )
    ]


@hookimpl(trylast=True)
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """12 months of values computed from the demo's data, 2026 targets, demo populations and manual values."""
    from cityops.indicators.demo import load

    load(session, console)

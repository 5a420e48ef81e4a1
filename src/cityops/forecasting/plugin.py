"""Default plugin for forecasting: the forecasts API, ``cityops forecast``, the scheduled runs and the demo's
forecasts (after the sectors' demo stations and their history)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import BackgroundTaskSpec


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.forecasting.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.forecasting.cli import forecast_cli

    cli.add_typer(forecast_cli, name="forecast")


@hookimpl
def background_tasks() -> list[BackgroundTaskSpec]:
    from cityops.forecasting.tasks import BACKTEST_SECONDS, RUN_SECONDS, run_forecasts
    from cityops.specs import BackgroundTaskSpec

    return [
        BackgroundTaskSpec(
            "forecast-run",
            RUN_SECONDS,
            run_forecasts,
            initial_delay_seconds=60.0,
            description="forecasts every declared target from its latest readings",
        ),
        BackgroundTaskSpec(
            "forecast-backtest",
            BACKTEST_SECONDS,
            lambda sessions, settings: run_forecasts(sessions, settings, backtest=True),
            initial_delay_seconds=300.0,
            description="refits and backtests every forecast target against persistence and seasonal naive",
        ),
    ]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Forecast Datastreams with stored backtests for every demo target, and one forecast run."""
    from cityops.forecasting.service import run_all
    from cityops.forecasting.targets import declared_targets

    started = time.perf_counter()
    results = run_all(session, declared_targets(), backtest=True)
    console.print(
        f"Forecasts: {len(results)} targets backtested and forecast ({sum(r.written for r in results)} "
        f"forecasts; skill on the simulator's synthetic series) in {time.perf_counter() - started:.1f} s."
    )

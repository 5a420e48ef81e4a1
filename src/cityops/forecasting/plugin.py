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
    """Forecast Datastreams with stored backtests for every demo target (the environment stations and the
    report volume of the wards and categories with most demo cases, on synthetic history), one run each."""
    from cityops.clock import utcnow
    from cityops.forecasting import report_volume
    from cityops.forecasting.service import run_all
    from cityops.forecasting.targets import all_targets

    started = time.perf_counter()
    today = utcnow().astimezone(report_volume.LOCAL).date()
    for area_id, category in report_volume.demo_pairs(session):
        ds = report_volume.volume_datastream(session, area_id, category, synthetic=True)
        report_volume.demo_history(session, ds, until=today)
    results = run_all(session, all_targets(session), backtest=True)
    console.print(
        f"Forecasts: {len(results)} targets backtested and forecast ({sum(r.written for r in results)} "
        f"forecasts; skill on synthetic series) in {time.perf_counter() - started:.1f} s."
    )

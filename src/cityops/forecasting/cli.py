"""``cityops forecast run`` and ``cityops forecast backtest``."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope
from cityops.forecasting.models import ForecastScore
from cityops.forecasting.service import run_all
from cityops.forecasting.targets import all_targets
from cityops.specs import ForecastTargetSpec

forecast_cli = typer.Typer(help="Forecasts: run the models, show their backtests.", no_args_is_help=True)

TargetOpt = Annotated[list[str] | None, typer.Option("--target", help="Only these target codes")]


def _num(value: float | None, digits: int = 3) -> str:
    """vi-VN decimal comma."""
    return "—" if value is None else f"{value:.{digits}f}".replace(".", ",")


def _specs(session: Session, target: list[str] | None) -> list[ForecastTargetSpec]:
    specs = all_targets(session)
    if target:
        unknown = set(target) - {s.code for s in specs}
        if unknown:
            Console(stderr=True).print(f"[red]unknown target(s): {', '.join(sorted(unknown))}[/red]")
            raise typer.Exit(2)
        specs = [s for s in specs if s.code in target]
    return specs


@forecast_cli.command("run")
def run_cmd(
    data_dir: DataDirOpt = None,
    target: TargetOpt = None,
    backtest: Annotated[bool, typer.Option("--backtest", help="Backtest (and refit) first")] = False,
) -> None:
    """Forecast every target from its latest readings (one Observation per lead, every run kept)."""
    console = Console(highlight=False)
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    started = time.perf_counter()
    with session_scope(make_sessionmaker(engine)) as session:
        results = run_all(session, _specs(session, target), backtest=backtest)
    for r in results:
        published = ", ".join(f"{h} h: {p}" for h, p in r.published.items())
        console.print(f"{r.target}: {r.written} forecasts ({published}) in {r.seconds:.2f} s")
    console.print(f"{len(results)} targets in {time.perf_counter() - started:.1f} s")


@forecast_cli.command("backtest")
def backtest_cmd(
    data_dir: DataDirOpt = None,
    target: TargetOpt = None,
    show_only: Annotated[
        bool, typer.Option("--show", help="Show the stored backtests; compute nothing")
    ] = False,
) -> None:
    """Backtest every target (rolling origin vs persistence and seasonal naive) and show the scores."""
    console = Console(highlight=False)
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    with session_scope(make_sessionmaker(engine)) as session:
        specs = _specs(session, target)
        if not show_only:
            run_all(session, specs, backtest=True)
        codes = [s.code for s in specs]
        scores = session.scalars(
            select(ForecastScore)
            .where(ForecastScore.target_code.in_(codes))
            .order_by(ForecastScore.target_code, ForecastScore.lead_hours)
        ).all()
        table = Table(title="Backtest (rolling origin) — RMSE; skill = 1 − MSE/MSE(baseline)")
        for col in (
            "target",
            "lead h",
            "model",
            "RMSE model",
            "RMSE persist.",
            "RMSE seas.",
            "skill p.",
            "skill s.",
            "published",
            "data",
        ):
            table.add_column(col)
        for s in scores:
            table.add_row(
                s.target_code,
                str(s.lead_hours),
                s.model,
                _num(s.rmse_model),
                _num(s.rmse_persistence),
                _num(s.rmse_seasonal),
                _num(s.skill_persistence, 2),
                _num(s.skill_seasonal, 2),
                s.published if s.published == s.model else f"{s.published} (baseline)",
                "synthetic" if s.synthetic else "measured",
            )
        console.print(table)
        if any(s.synthetic for s in scores):
            console.print("Synthetic: skill computed on the simulator's series, not on real measurements.")

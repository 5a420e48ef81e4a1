"""Default plugin for programmes: routes, CLI and the demo (the 2020 Long An scheme)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import orjson

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import DashboardPanelSpec, IndicatorCalculatorSpec, IndicatorSpec

DEMO_FILE = "long_an_2020.json"


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.programmes.api import router

    app.include_router(router)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.programmes.cli import programmes_cli

    cli.add_typer(programmes_cli, name="programmes")


def demo_document() -> bytes:
    return resources.files("cityops.programmes").joinpath("data", DEMO_FILE).read_bytes()


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """The 2020 Long An scheme: its real total and phases, with demo project budgets and disbursements."""
    from cityops.programmes.schemas import ProgrammeIn
    from cityops.programmes.service import import_programme

    result = import_programme(session, ProgrammeIn.model_validate(orjson.loads(demo_document())))
    console.print(
        f"Programme: the 2020 Long An smart-city scheme ({result.phases} phases, "
        f"{result.projects_created} new projects, {result.disbursements_added} disbursements)."
    )


@hookimpl
def indicators() -> list[IndicatorSpec]:
    from cityops.programmes.indicators import indicators as specs

    return specs()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.programmes.indicators import calculators

    return calculators()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    """The scheme's progress on the IOC wall: disbursement, projects done, communes in the rollout."""
    from cityops.specs import DashboardPanelSpec

    return [
        DashboardPanelSpec(
            code="scheme-progress",
            title_vi="Tiến độ Đề án đô thị thông minh",
            title_en="Smart-city scheme progress",
            sector="scheme",
            kind="indicator_tiles",
            indicators=(
                "scheme.disbursement_rate",
                "scheme.budget_disbursed",
                "scheme.projects_completed",
                "scheme.rollout_communes",
            ),
            order=90,
        )
    ]

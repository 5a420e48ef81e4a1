"""``cityops programmes …``: import a programme document, show a programme's progress."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope
from cityops.errors import ApiError
from cityops.programmes import service
from cityops.programmes.schemas import ProgrammeIn

programmes_cli = typer.Typer(
    help="The smart-city scheme as data: phases, projects, budget.", no_args_is_help=True
)


def _vnd(amount: int) -> str:
    """Billions of VND, vi-VN style (decimal comma): 500 tỷ đồng."""
    return f"{amount / 1e9:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " tỷ đồng"


@programmes_cli.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A programme document (JSON)")],
    data_dir: DataDirOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and report; write nothing")] = False,
) -> None:
    """Create or update a programme from its JSON document (idempotent: importing twice changes nothing)."""
    err = Console(stderr=True, highlight=False)
    try:
        doc = ProgrammeIn.model_validate(orjson.loads(file.read_bytes()))
    except (orjson.JSONDecodeError, ValidationError) as exc:
        err.print(f"[red]{file}: not a valid programme document:[/red]\n{exc}")
        raise typer.Exit(2) from None
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            try:
                result = service.import_programme(session, doc)
            except ApiError as exc:
                err.print(f"[red]{exc.message}[/red]")
                raise typer.Exit(2) from None
            if dry_run:
                session.rollback()
    finally:
        engine.dispose()
    out = Console(highlight=False)
    verb = "would be" if dry_run else "was"
    out.print(
        f"Programme {doc.code} {verb} {'created' if result.created else 'updated'}: {result.phases} phases, "
        f"{result.projects_created} projects created, {result.projects_updated} updated, "
        f"{result.disbursements_added} disbursements added."
    )
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")


@programmes_cli.command("show")
def show_cmd(code: str, data_dir: DataDirOpt = None) -> None:
    """A programme's budget, disbursement and project progress."""
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            try:
                programme = service.get_programme(session, code)
            except ApiError as exc:
                Console(stderr=True).print(f"[red]{exc.message}[/red]")
                raise typer.Exit(1) from None
            p = service.progress(session, programme)
            out = Console(highlight=False)
            out.print(f"[bold]{programme.name_vi}[/bold]")
            out.print(
                f"Kinh phí dự kiến: {_vnd(p.budget_planned_vnd)}; đã giải ngân: {_vnd(p.disbursed_vnd)}"
            )
            out.print(f"Dự án theo trạng thái: {p.projects_by_status}")
    finally:
        engine.dispose()

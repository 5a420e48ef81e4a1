"""``cityops indicators …``: sync the declarations, rebuild a range of values, show what is stale."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.clock import parse_date
from cityops.db import make_engine, make_sessionmaker, session_scope

indicators_cli = typer.Typer(help="Indicators: sync declarations, recompute values.", no_args_is_help=True)


def _date(text: str, option: str) -> date:
    try:
        return parse_date(text)
    except ValueError:
        Console(stderr=True).print(
            f"[red]{option}: not a date: {text!r} (use yyyy-mm-dd or dd/mm/yyyy)[/red]"
        )
        raise typer.Exit(2) from None


@indicators_cli.command("recompute")
def recompute_cmd(
    from_: Annotated[str, typer.Option("--from", help="First day of the range (yyyy-mm-dd).")],
    to: Annotated[str, typer.Option("--to", help="Last day of the range (inclusive).")],
    indicator: Annotated[
        list[str] | None, typer.Option("--indicator", help="Only these codes (repeatable).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Rebuild every computed value of the periods between --from and --to."""
    from cityops.indicators.engine import recompute
    from cityops.indicators.registry import load, sync

    first, last = _date(from_, "--from"), _date(to, "--to")
    if last < first:
        Console(stderr=True).print("[red]--to is before --from[/red]")
        raise typer.Exit(2)
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            reg = sync(session, load())
            unknown = sorted(set(indicator or ()) - set(reg.indicators))
            if unknown:
                Console(stderr=True).print(f"[red]Unknown indicator(s): {', '.join(unknown)}[/red]")
                raise typer.Exit(2)
            written = recompute(session, first, last, indicator or None, reg)
        Console().print(f"{written} value(s) written for {first.isoformat()} … {last.isoformat()}")
    finally:
        engine.dispose()


@indicators_cli.command("sync")
def sync_cmd(data_dir: DataDirOpt = None) -> None:
    """Write the declared sets and indicators into the database (the server does it at start-up)."""
    from cityops.indicators.registry import sync

    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            reg = sync(session)
        Console().print(f"{len(reg.indicators)} indicator(s), {len(reg.sets)} set(s)")
    finally:
        engine.dispose()

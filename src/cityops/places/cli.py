"""``cityops places …``: import places of a type from GeoJSON or CSV, link station Things, list the types."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope
from cityops.errors import ApiError
from cityops.places.importer import PlaceImportError, import_features

places_cli = typer.Typer(
    help="The places registry: stations, sluice gates, schools, clinics, ...", no_args_is_help=True
)


def _out() -> Console:
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def _session(data_dir: Path | None) -> Iterator[Session]:
    """A session on the configured database, committed on success (the engine is disposed after)."""
    engine = make_engine(settings_from_cli(data_dir).effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


@places_cli.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection or CSV with lat/lon columns.")],
    type_code: Annotated[
        str, typer.Option("--type", help="The place type of every row (see `places types`).")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and report; write nothing.")] = False,
    source: Annotated[
        str | None, typer.Option("--source", help="Name of the source system (default: the file name).")
    ] = None,
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs", help="CRS of GeoJSON coordinates (e.g. EPSG:9210, VN-2000 TM-3); default WGS 84."
        ),
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create or update places from a file, idempotent on the external id; bad rows are reported, not stored."""
    try:
        with _session(data_dir) as session:
            report = import_features(
                session, file, type_code, source_name=source or file.name, dry_run=dry_run, crs=crs
            )
            if dry_run:
                session.rollback()
    except (PlaceImportError, ApiError) as exc:
        _err().print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    out = _out()
    out.print(report.summary() + ".")
    if report.rejected:
        table = Table(title="Rejected rows (nothing of them was stored)")
        table.add_column("row", overflow="fold")
        table.add_column("reason", overflow="fold")
        for label, reason in report.rejected:
            table.add_row(label, reason)
        out.print(table)
    if report.ignored:
        out.print("Ignored properties (not attributes of " + type_code + "): " + ", ".join(report.ignored))
    if report.rejected:
        raise typer.Exit(3)


@places_cli.command("link-things")
def link_things_cmd(data_dir: DataDirOpt = None) -> None:
    """Create or refresh the station place of every SensorThings station Thing."""
    from cityops.places.stations import link_things

    with _session(data_dir) as session:
        stats = link_things(session)
    _out().print(
        f"Stations: {stats.created} created, {stats.updated} updated, {stats.unchanged} unchanged, "
        f"{stats.skipped} skipped."
    )


@places_cli.command("types")
def types_cmd(data_dir: DataDirOpt = None) -> None:
    """List the place types (synced from the sectors' declarations first)."""
    from cityops.places.types import all_types, sync_place_types

    with _session(data_dir) as session:
        sync_place_types(session)
        table = Table(title="Place types")
        for col in ("code", "name", "sector", "visibility", "attributes", "statuses"):
            table.add_column(col, overflow="fold")
        for t in all_types(session):
            table.add_row(
                t.code,
                t.name_vi,
                t.sector,
                t.visibility,
                ", ".join(a["code"] for a in t.attributes or []),
                ", ".join(s["code"] for s in t.statuses or []),
            )
        _out().print(table)

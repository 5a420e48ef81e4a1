"""``cityops areas …``: list, show (with lineage), lookup a point, import official boundaries, load."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from cityops.areas import service
from cityops.areas.boundaries import VN2000_TM3_EPSG, BoundaryImportError, import_boundaries, load_file
from cityops.areas.lineage import current_successors, direct_predecessors, direct_successors
from cityops.areas.lookup import locate
from cityops.areas.models import Area
from cityops.areas.sources import LEVELS
from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.clock import parse_date
from cityops.db import make_engine, make_sessionmaker, session_scope

areas_cli = typer.Typer(
    help="Administrative units (current and historical) and point lookup.", no_args_is_help=True
)


def _out() -> Console:
    return Console(highlight=False)


def _err() -> Console:
    return Console(stderr=True, highlight=False)


@contextmanager
def _session(data_dir: Path | None) -> Iterator[Session]:
    settings = settings_from_cli(data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return parse_date(text)
    except ValueError:
        _err().print(f"[red]Not a date: {text!r} (use yyyy-mm-dd or dd/mm/yyyy)[/red]")
        raise typer.Exit(2) from None


def _validity(area: Area) -> str:
    start = area.valid_from.isoformat() if area.valid_from else "…"
    end = area.valid_to.isoformat() if area.valid_to else "now"
    return f"{start} → {end}"


AtOpt = Annotated[
    str | None, typer.Option("--at", help="Units valid on this date (yyyy-mm-dd or dd/mm/yyyy).")
]


@areas_cli.command("list")
def list_cmd(
    level: Annotated[str | None, typer.Option(help="province, district or commune.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="Name search (diacritics ignored).")] = None,
    historical: Annotated[bool, typer.Option("--historical", help="Include units that have ended.")] = False,
    at: AtOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Rows to show.")] = 500,
    data_dir: DataDirOpt = None,
) -> None:
    """List administrative units (current by default)."""
    if level is not None and level not in LEVELS:
        _err().print(f"[red]--level must be one of {', '.join(LEVELS)}[/red]")
        raise typer.Exit(2)
    with _session(data_dir) as session:
        rows, total = service.list_areas(
            session, level=level, q=q, historical=historical, at=_date(at), limit=limit
        )
        table = Table(title=f"{total} area(s)" + (f", showing {len(rows)}" if len(rows) < total else ""))
        for col in ("id", "code", "level", "name", "valid", "geometry"):
            table.add_column(col, overflow="fold")
        for a in rows:
            geometry = "—" if not a.geometry else ("approximate" if a.geometry_approximate else "official")
            table.add_row(str(a.id), a.code, a.level, a.name, _validity(a), geometry)
        _out().print(table)


@areas_cli.command("show")
def show_cmd(
    code_or_id: Annotated[str, typer.Argument(help="Statistics-office code, or #ID for a database id.")],
    data_dir: DataDirOpt = None,
) -> None:
    """Show a unit (every unit, when a code was reused) with its parent and lineage."""
    out = _out()
    with _session(data_dir) as session:
        found = service.resolve(session, code_or_id)
        if not found:
            _err().print(f"[red]No area with code or id {code_or_id!r}[/red]")
            raise typer.Exit(1)
        for area in found:
            chain = service.ancestors(session, area)
            out.print(f"[bold]{area.name}[/bold]  (#{area.id}, code {area.code}, {area.level}, {area.kind})")
            out.print(f"  valid: {_validity(area)}")
            if chain:
                out.print("  in: " + " › ".join(a.name for a in chain))
            out.print(f"  children: {service.children_count(session, area.id)}")
            source = area.geometry_source or "none"
            flag = "approximate" if area.geometry_approximate else "official"
            out.print(f"  geometry: {flag if area.geometry else 'none'} ({source})")
            for pred, link in direct_predecessors(session, area.id):
                out.print(f"  ← {pred.name} (#{pred.id}, code {pred.code}, {link.relation})")
            for succ, link in direct_successors(session, area.id):
                default = ", default" if link.relation == "split" and link.is_default else ""
                out.print(f"  → {succ.name} (#{succ.id}, code {succ.code}, {link.relation}{default})")
            if not area.is_current:
                now = current_successors(session, area.id)
                out.print("  today: " + (", ".join(f"{a.name} (#{a.id})" for a in now) or "—"))
            out.print()


@areas_cli.command("lookup")
def lookup_cmd(
    lat: Annotated[float, typer.Argument(help="WGS 84 latitude.")],
    lon: Annotated[float, typer.Argument(help="WGS 84 longitude.")],
    at: AtOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Which unit contains a point (today, or on --at)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        _err().print("[red]Latitude must be within ±90 and longitude within ±180.[/red]")
        raise typer.Exit(2)
    with _session(data_dir) as session:
        found = locate(session, lat, lon, _date(at))
        if not found:
            _err().print(f"[yellow]No area contains ({lat}, {lon}).[/yellow]")
            raise typer.Exit(1)
        out = _out()
        for area in found:
            flag = " (approximate)" if area.geometry_approximate else ""
            out.print(f"{area.level}: {area.name} (#{area.id}, code {area.code}){flag}")


@areas_cli.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="GeoJSON FeatureCollection of boundaries.")],
    crs: Annotated[
        str | None,
        typer.Option(
            "--crs",
            help="CRS of the coordinates (e.g. EPSG:9210, VN-2000 TM-3 105°45'); default: the file's `crs` "
            "member, else WGS 84. VN-2000 TM-3 zones: " + ", ".join(str(c) for c in VN2000_TM3_EPSG) + ".",
        ),
    ] = None,
    match: Annotated[
        str, typer.Option("--match", help="Match features to areas by `code` or `name`.")
    ] = "code",
    level: Annotated[str | None, typer.Option(help="Only match areas of this level.")] = None,
    at: AtOpt = None,
    skip_unmatched: Annotated[
        bool, typer.Option("--skip-unmatched", help="Ignore features that match no area instead of failing.")
    ] = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Replace approximate geometry with official boundaries (all or nothing)."""
    err = _err()
    try:
        data = load_file(file)
        with _session(data_dir) as session:
            result = import_boundaries(
                session,
                data,
                source=file.name,
                crs=crs,
                match=match,
                at=_date(at),
                level=level,
                skip_unmatched=skip_unmatched,
            )
    except BoundaryImportError as exc:
        err.print(str(exc), style="red", markup=False)
        raise typer.Exit(1) from None
    out = _out()
    out.print(f"Imported {len(result.updated)} boundary(ies) from {file.name} (CRS {result.crs}).")
    for area_id, code, name in result.updated:
        out.print(f"  {name} (#{area_id}, code {code})")
    if result.parents_updated:
        out.print(f"Recomputed {result.parents_updated} parent geometry(ies).")
    if result.unmatched:
        out.print(f"[yellow]Skipped {len(result.unmatched)} unmatched feature(s).[/yellow]")


@areas_cli.command("load")
def load_cmd(data_dir: DataDirOpt = None) -> None:
    """Load (or refresh) the province's current and legacy units from vietnamadminunits. Safe to run again."""
    err = _err()
    with _session(data_dir) as session:
        stats = service.load_areas(session, console=err)
    err.print(
        f"[green]Areas: {stats.created} created, {stats.updated} updated, {stats.unchanged} unchanged; "
        f"lineage: {stats.lineage_created} created, {stats.lineage_updated} updated, "
        f"{stats.lineage_removed} removed.[/green]"
    )

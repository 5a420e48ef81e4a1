"""``cityops sensing …``: latest values, roll-up rebuilds and PostgreSQL partitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cli import DataDirOpt, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope

sensing_cli = typer.Typer(help="Sensor data: latest values, roll-ups, storage upkeep.", no_args_is_help=True)


@contextmanager
def _session(data_dir: Path | None) -> Iterator[Session]:
    settings = settings_from_cli(data_dir)
    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            yield session
    finally:
        engine.dispose()


@sensing_cli.command("latest")
def latest(data_dir: DataDirOpt = None) -> None:
    """The latest value of every datastream."""
    from cityops.sensing.models import Datastream, Thing
    from cityops.sensing.sta_entities import iso
    from cityops.sensing.storage import join_result

    table = Table("id", "station", "datastream", "value", "unit", "time (UTC)")
    with _session(data_dir) as session:
        rows = session.execute(
            select(Datastream, Thing.name)
            .join(Thing, Thing.id == Datastream.thing_id)
            .order_by(Datastream.id)
        ).all()
        for ds, thing_name in rows:
            table.add_row(
                str(ds.id),
                thing_name,
                ds.name,
                str(join_result(ds.last_value, ds.last_result)),
                str(ds.unit_of_measurement.get("symbol", "")),
                iso(ds.last_phenomenon_time) or "—",
            )
    Console().print(table)


@sensing_cli.command("rebuild-rollups")
def rebuild(
    datastream_ids: Annotated[list[int] | None, typer.Argument(help="Datastream ids (default: all).")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Recompute roll-ups, time ranges and latest values from the stored observations."""
    from cityops.sensing.models import Datastream
    from cityops.sensing.storage import rebuild_rollups

    with _session(data_dir) as session:
        ids = datastream_ids or list(session.scalars(select(Datastream.id).order_by(Datastream.id)))
        for ds_id in ids:
            if session.get(Datastream, ds_id) is None:
                Console(stderr=True).print(f"[red]No datastream {ds_id}[/red]")
                raise typer.Exit(1)
            rebuild_rollups(session, ds_id)
    Console().print(f"Rebuilt roll-ups of {len(ids)} datastream(s).")


@sensing_cli.command("partitions")
def partitions(
    months_ahead: Annotated[int, typer.Option(help="Monthly partitions to create ahead of now.")] = 3,
    data_dir: DataDirOpt = None,
) -> None:
    """Create missing monthly observation partitions (PostgreSQL; nothing to do on SQLite)."""
    from cityops.sensing.partitioning import ensure_partitions

    with _session(data_dir) as session:
        done = ensure_partitions(session.connection(), months_ahead=months_ahead)
    Console().print(f"{done} partition statement(s) applied.")

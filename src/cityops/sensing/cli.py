"""``cityops sensing …``: latest values, roll-up rebuilds and PostgreSQL partitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cli_options import DataDirOpt, settings_from_cli
from cityops.db import make_engine, make_sessionmaker, session_scope

if TYPE_CHECKING:
    from paho.mqtt.publish import AuthParameter, TLSParameter

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
    from cityops.sensing.ingest.batch import join_result
    from cityops.sensing.models import Datastream, Thing
    from cityops.sensing.sta_entities import iso

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
    from cityops.sensing.ingest.rollups import rebuild_rollups
    from cityops.sensing.models import Datastream

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


@sensing_cli.command("dead-letters")
def dead_letters(
    replay: Annotated[
        list[int] | None, typer.Option("--replay", help="Publish these parked messages to their topic again.")
    ] = None,
    delete: Annotated[list[int] | None, typer.Option("--delete", help="Drop these parked messages.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """MQTT messages the bridge parked after ``mqtt_max_attempts`` failures: list, replay or drop them.

    Replaying publishes the message again, at QoS 1, to the topic it came on (so it goes through the
    bridge like any other) and removes the row once the broker has acknowledged it."""
    from sqlalchemy import delete as sql_delete

    from cityops.sensing.mqtt.deadletter import MqttDeadLetter

    console = Console()
    with _session(data_dir) as session:
        if replay:
            settings = settings_from_cli(data_dir)
            rows = session.scalars(select(MqttDeadLetter).where(MqttDeadLetter.id.in_(replay))).all()
            missing = set(replay) - {r.id for r in rows}
            if missing:
                console.print(f"[red]No parked message with id {', '.join(map(str, sorted(missing)))}[/red]")
                raise typer.Exit(1)
            republish(settings.mqtt_url, [(r.topic, r.payload) for r in rows])
            session.execute(sql_delete(MqttDeadLetter).where(MqttDeadLetter.id.in_(replay)))
            console.print(f"Replayed {len(rows)} message(s).")
        if delete:
            gone = session.execute(sql_delete(MqttDeadLetter).where(MqttDeadLetter.id.in_(delete)))
            console.print(f"Dropped {getattr(gone, 'rowcount', 0)} message(s).")
        if not replay and not delete:
            table = Table("id", "parked (UTC)", "topic", "attempts", "bytes", "error")
            for r in session.scalars(select(MqttDeadLetter).order_by(MqttDeadLetter.id)):
                table.add_row(
                    str(r.id),
                    r.parked_at.isoformat(),
                    r.topic,
                    str(r.attempts),
                    str(len(r.payload)),
                    r.error[:80],
                )
            console.print(table)


def republish(mqtt_url: str | None, messages: list[tuple[str, bytes]]) -> None:
    """Publish (topic, payload) pairs at QoS 1 and return once the broker acknowledged every one."""
    import paho.mqtt.publish as publish

    from cityops.sensing.mqtt.transport import broker_address

    if not mqtt_url:
        raise typer.BadParameter("MQTT is not configured (settings.mqtt_url is empty)")
    host, port, username, password, tls = broker_address(mqtt_url)
    auth: AuthParameter | None = None
    if username:
        auth = {"username": username}
        if password is not None:
            auth["password"] = password
    tls_params: TLSParameter | None = None
    if tls:
        tls_params = cast("TLSParameter", {})  # the system's CA certificates
    publish.multiple(
        [{"topic": topic, "payload": payload, "qos": 1} for topic, payload in messages],
        hostname=host,
        port=port,
        auth=auth,
        tls=tls_params,
    )

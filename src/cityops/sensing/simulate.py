"""``cityops simulate``: feed every sector's demo stations with simulated series over HTTP or MQTT.

The stations and the models simulating them come from the ``demo_stations`` hook (the environment's rivers and
air, the traffic counters, any third-party sector's), so sensing runs them without knowing any sector.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from cityops.clock import ensure_utc, utcnow
from cityops.plugins import declarations
from cityops.specs import StationSpec

console = Console(stderr=True)


def demo_stations() -> list[StationSpec]:
    """Every plugin's demo stations, in plugin registration order (a duplicate code fails naming the plugin)."""
    return [spec for _, spec in declarations("demo_stations", StationSpec)]


class Via(StrEnum):
    HTTP = "http"
    MQTT = "mqtt"


def simulate(
    speed: Annotated[
        float, typer.Option(help="Simulated seconds per real second (0 = as fast as possible).")
    ] = 60.0,
    via: Annotated[Via, typer.Option(help="Send over SensorThings HTTP or MQTT.")] = Via.HTTP,
    minutes: Annotated[float, typer.Option(help="Simulated minutes to feed.", min=0.0)] = 60.0,
    url: Annotated[
        str, typer.Option(help="cityops base URL (SensorThings at <url>/sta/v1.1).")
    ] = "http://127.0.0.1:8000",
    mqtt_url: Annotated[str, typer.Option(help="MQTT broker, with --via mqtt.")] = "mqtt://127.0.0.1:1883",
    api_key: Annotated[str | None, typer.Option(help="API key with the ingest scope (X-API-Key).")] = None,
    start: Annotated[
        str | None, typer.Option(help="Simulated start time, ISO 8601 (naive = Vietnam time); default now.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Noise seed (same seed, same series).")] = 0,
    station: Annotated[list[str] | None, typer.Option(help="Only these station codes (repeatable).")] = None,
) -> None:
    """Feed every sector's demo stations (tidal salinity, water level, air quality, traffic) at a chosen speed."""
    from cityops.sensing.simulator import HttpSender, MqttSender, RunStats, Sender, run

    stations = [s for s in demo_stations() if not station or s.code in station]
    if not stations:
        console.print("[red]No station matches.[/red]")
        raise typer.Exit(2)
    begin = ensure_utc(datetime.fromisoformat(start)) if start else utcnow().replace(second=0, microsecond=0)
    http = HttpSender(url, api_key=api_key)
    sender: Sender = MqttSender(mqtt_url, http) if via is Via.MQTT else http

    def progress(stats: RunStats, sim: datetime) -> None:
        console.print(f"{sim:%Y-%m-%d %H:%M}Z  sent {stats.sent}  skipped {stats.skipped}", highlight=False)

    try:
        stats = run(stations, sender, start=begin, minutes=minutes, speed=speed, seed=seed, on_batch=progress)
    except Exception as exc:  # network errors: a readable line, not a traceback
        console.print(f"[red]Simulation stopped: {exc}[/red]")
        raise typer.Exit(1) from None
    console.print(f"[green]Sent {stats.sent} observations in {stats.batches} batches.[/green]")

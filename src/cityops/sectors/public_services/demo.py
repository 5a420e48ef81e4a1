"""The public services sector's demo: markets (chợ Tân An, ...) and the one-stop shops of the pilot wards, from
``data/`` (demo data, approximate positions), and seven demo dossiers (``DEMO-2612-0001`` … ``0007``, marked
demo) whose times are relative to today, so some are overdue on every run; look up ``DEMO-2612-0001`` with the
digits ``5678`` (the demo phone's last four)."""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cityops.clock import utcnow
from cityops.sectors.demo_places import DEMO_SOURCE, load_demo_places
from cityops.sectors.public_services import dossiers
from cityops.sectors.public_services.specs import PLACE_TYPES, PUBLIC_EVENT

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

DATA = Path(__file__).parent / "data"
_RELATIVE = re.compile(r"^([+-]\d+)d(?: (\d{2}):(\d{2}))?$")
_TIME_KEYS = ("ngayTiepNhan", "ngayHenTra", "ngayTra", "ngayBatDau", "ngayKetThuc")


def _absolute(value: str, today: datetime) -> str:
    """``-2d 08:30`` → that local time two days ago; ``+1d`` → that local date (ISO)."""
    m = _RELATIVE.match(value)
    if not m:
        return value
    day = (today + timedelta(days=int(m.group(1)))).date()
    if m.group(2) is None:
        return day.isoformat()
    return datetime.combine(day, time(int(m.group(2)), int(m.group(3)))).isoformat()


def _resolve(obj: Any, today: datetime) -> Any:
    if isinstance(obj, dict):
        return {k: (_absolute(v, today) if k in _TIME_KEYS else _resolve(v, today)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, today) for v in obj]
    return obj


def demo_dossiers(now: datetime | None = None) -> list[dict[str, Any]]:
    """The demo rows with their relative times made absolute (local dates and times)."""
    today = (now or utcnow()).astimezone(dossiers.VN).replace(tzinfo=None)
    rows: list[dict[str, Any]] = json.loads((DATA / "demo_dossiers.json").read_text(encoding="utf-8"))
    return [_resolve(row, today) for row in rows]


def load(session: Session, console: Console) -> None:
    """Import the demo places of each of the sector's place types (idempotent)."""
    load_demo_places(session, DATA, [spec.code for spec in PLACE_TYPES], console)


def load_dossiers(session: Session, console: Console, secret: str) -> None:
    """Upsert the demo dossiers (unchanged within a day; their relative times move with the date)."""
    report = dossiers.upsert(session, demo_dossiers(), secret=secret, source="demo", demo=True)
    session.commit()
    console.print(
        f"dossiers: {report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )


def demo_events(now: datetime | None = None) -> dict[str, Any]:
    """The demo events as a GeoJSON FeatureCollection, dated from today (``start``/``end``: days from now);
    each retires (``valid_to``) the day after it ends."""
    today = (now or utcnow()).astimezone(dossiers.VN).date()
    rows: list[dict[str, Any]] = json.loads((DATA / "demo_events.json").read_text(encoding="utf-8"))
    features = []
    for row in rows:
        start, end = today + timedelta(days=row["start"]), today + timedelta(days=row["end"])
        props = {k: v for k, v in row.items() if k not in ("start", "end", "lon", "lat")}
        props |= {"start_date": start.isoformat(), "end_date": end.isoformat()}
        props |= {"valid_to": (end + timedelta(days=1)).isoformat()}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features}


def load_events(session: Session, console: Console) -> None:
    """Import the demo events (unchanged within a day; their dates move with today's)."""
    from cityops.places.importer import import_features

    body = json.dumps(demo_events()).encode()
    report = import_features(session, body, PUBLIC_EVENT.code, source_name=DEMO_SOURCE, demo=True)
    console.print(f"Demo events: {report.summary()}.")
    for label, reason in report.rejected:
        console.print(f"[yellow]  {label}: {reason}[/yellow]")

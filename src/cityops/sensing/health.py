"""Station health, one rule for every listing: a datastream is online while its last reading is at most two
expected intervals old, late up to six, offline beyond; a station (Thing) is as healthy as its freshest
datastream. The expected interval is the datastream's ``expected_interval_s`` property, else its Thing's, else
five minutes.

:func:`sync_station_places` carries that health into the places registry: each place linked to a Thing gets
status ``offline`` or ``online`` (a place an operator put in ``maintenance`` is left alone), with a history
entry and an audit row only when the status changes. It runs as a background task, so the registry, the map
and ``GET /api/v1/places?type=station&status=offline`` agree with the station listings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.db import session_scope
from cityops.places.models import Place, PlaceType
from cityops.places.service import change_status
from cityops.sensing.models import Datastream, Thing
from cityops.sensing.quality import StationHealth, station_health
from cityops.settings import Settings

DEFAULT_INTERVAL_S = 300
KEEP = frozenset({"maintenance"})  # statuses an operator sets by hand, never overwritten by health


def interval_of(ds: Datastream, thing_props: dict[str, Any] | None) -> timedelta:
    props = thing_props or {}
    seconds = (ds.properties or {}).get("expected_interval_s") or props.get("expected_interval_s")
    return timedelta(seconds=float(seconds or DEFAULT_INTERVAL_S))


@dataclass(frozen=True)
class ThingHealth:
    health: StationHealth
    last_time: datetime | None
    datastreams: dict[int, StationHealth]


def thing_health(
    session: Session,
    things: Iterable[Thing],
    now: datetime,
    datastreams: Mapping[int, Sequence[Datastream]] | None = None,
) -> dict[int, ThingHealth]:
    """The health of each Thing and of its datastreams (one query for all the datastreams, none when the
    caller already holds them as ``datastreams``: Thing id → its Datastreams)."""
    by_id = {t.id: t for t in things}
    streams: dict[int, list[Datastream]] = {tid: [] for tid in by_id}
    if datastreams is not None:
        for tid in by_id:
            streams[tid].extend(datastreams.get(tid, ()))
    elif by_id:
        for ds in session.scalars(select(Datastream).where(Datastream.thing_id.in_(sorted(by_id)))):
            streams[ds.thing_id].append(ds)
    out: dict[int, ThingHealth] = {}
    for tid, thing in by_id.items():
        per_ds = {
            ds.id: station_health(ds.last_phenomenon_time, interval_of(ds, thing.properties), now)
            for ds in streams[tid]
        }
        freshest = max(
            (ds for ds in streams[tid] if ds.last_phenomenon_time is not None),
            key=lambda d: d.last_phenomenon_time,  # type: ignore[arg-type,return-value]
            default=None,
        )
        if freshest is None:
            out[tid] = ThingHealth(StationHealth.OFFLINE, None, per_ds)
        else:
            out[tid] = ThingHealth(per_ds[freshest.id], freshest.last_phenomenon_time, per_ds)
    return out


def sync_station_places(session: Session, now: datetime | None = None) -> int:
    """Set each Thing-linked place's status from its Thing's health; returns the places whose status changed."""
    now = now or utcnow()
    places = list(session.scalars(select(Place).where(Place.thing_id.is_not(None)).order_by(Place.id)))
    if not places:
        return 0
    types = {t.code: t for t in session.scalars(select(PlaceType))}
    things = session.scalars(
        select(Thing).where(Thing.id.in_(sorted({p.thing_id for p in places if p.thing_id})))
    )
    health = thing_health(session, things, now)
    changed = 0
    for place in places:
        ptype = types.get(place.type_code)
        known = health.get(place.thing_id or 0)
        if ptype is None or known is None or place.status in KEEP:
            continue
        wanted = "offline" if known.health is StationHealth.OFFLINE else "online"
        codes = {s.get("code") for s in (ptype.statuses or [])}
        if wanted not in codes or place.status == wanted:
            continue
        last = known.last_time.isoformat() if known.last_time else "never"
        change_status(
            session, place, ptype, wanted, note=f"station health (last reading: {last})", actor=None
        )
        changed += 1
    return changed


def run_station_health(sessions: sessionmaker[Session], settings: Settings) -> None:
    """The background task: one pass in one transaction."""
    with session_scope(sessions) as session:
        sync_station_places(session)

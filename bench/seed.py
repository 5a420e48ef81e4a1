"""Seeding straight through the store functions (the seeding time is not a figure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from cityops.identity.apikeys import create_api_key
from cityops.reports.categories import sync_categories
from cityops.reports.models import Case, Category
from cityops.sensing.models import Datastream, Location, ObservedProperty, Sensor, Thing, thing_locations
from cityops.sensing.storage import ObservationIn, ingest_observations

UNIT = {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"}
OBS_TYPE = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
# Tây Ninh / former Long An, roughly
LAT0, LAT1, LON0, LON1 = 10.4, 11.8, 105.8, 106.8
YEAR_END = datetime(2026, 11, 1, tzinfo=UTC)
YEAR_START = YEAR_END - timedelta(days=365)


def _base(session: Session) -> tuple[int, int]:
    sensor = Sensor(name="bench sensor", encoding_type="text/plain", sensor_metadata="bench")
    prop = ObservedProperty(name="Temperature", definition="http://example.org/temperature")
    session.add_all([sensor, prop])
    session.flush()
    return sensor.id, prop.id


def stations(session: Session, n: int, *, with_latest: bool) -> list[int]:
    """``n`` Things with one Location and one Datastream each (bulk inserts); returns datastream ids."""
    sensor_id, prop_id = _base(session)
    rng = random.Random(n)
    first_thing = (session.scalar(select(Thing.id).order_by(Thing.id.desc()).limit(1)) or 0) + 1
    first_loc = (session.scalar(select(Location.id).order_by(Location.id.desc()).limit(1)) or 0) + 1
    first_ds = (session.scalar(select(Datastream.id).order_by(Datastream.id.desc()).limit(1)) or 0) + 1
    things, locs, links, streams = [], [], [], []
    now = YEAR_END
    for i in range(n):
        lat, lon = rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1)
        things.append(
            {"id": first_thing + i, "name": f"bench station {i}", "description": "", "properties": None}
        )
        locs.append(
            {
                "id": first_loc + i,
                "name": f"bench location {i}",
                "description": "",
                "encoding_type": "application/geo+json",
                "location": {"type": "Point", "coordinates": [lon, lat]},
                "properties": None,
                "lat": lat,
                "lon": lon,
            }
        )
        links.append({"thing_id": first_thing + i, "location_id": first_loc + i})
        row: dict[str, Any] = {
            "id": first_ds + i,
            "name": f"bench datastream {i}",
            "description": "",
            "unit_of_measurement": UNIT,
            "observation_type": OBS_TYPE,
            "observed_area": None,
            "properties": None,
            "thing_id": first_thing + i,
            "sensor_id": sensor_id,
            "observed_property_id": prop_id,
            "last_value": None,
            "last_result": None,
            "last_phenomenon_time": None,
            "last_observation_id": None,
        }
        if with_latest:
            row["last_value"] = round(rng.uniform(20, 40), 2)
            row["last_phenomenon_time"] = now
        streams.append(row)
    for table, rows in (
        (Thing.__table__, things),
        (Location.__table__, locs),
        (thing_locations, links),
        (Datastream.__table__, streams),
    ):
        for k in range(0, len(rows), 5000):
            session.execute(insert(table), rows[k : k + 5000])  # type: ignore[arg-type]
    session.commit()
    _fix_sequences(session)
    return [s["id"] for s in streams]


def _fix_sequences(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in ("sta_things", "sta_locations", "sta_datastreams"):
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        )
    session.commit()


def minute_series(
    session: Session, datastream_id: int, start: datetime, minutes: int, *, batch: int = 20_000
) -> int:
    """``minutes`` one-minute observations through ``ingest_observations`` (roll-ups maintained)."""
    rng = random.Random(datastream_id)
    done = 0
    value = 25.0
    while done < minutes:
        rows = []
        for k in range(done, min(done + batch, minutes)):
            value += rng.uniform(-0.3, 0.3)
            value = min(max(value, 5.0), 45.0)
            rows.append(ObservationIn(datastream_id, start + timedelta(minutes=k), round(value, 2)))
        ingest_observations(session, rows, emit_event=False)
        session.commit()
        done += len(rows)
    return done


def cases(session: Session, n: int) -> list[str]:
    """``n`` public cases spread over the province and the last 90 days (bulk insert)."""
    sync_categories(session)
    session.commit()
    codes = list(session.scalars(select(Category.code).where(Category.active.is_(True))))
    rng = random.Random(n)
    # a province's backlog: most cases are done, about 15% open
    states = ["submitted", "acknowledged", "in_progress"] + ["resolved"] * 5 + ["closed"] * 12
    now = datetime.now(UTC)
    first = (session.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) or 0) + 1
    rows = []
    for i in range(n):
        at = now - timedelta(minutes=rng.uniform(0, 90 * 24 * 60))
        rows.append(
            {
                "id": first + i,
                "ref": f"BENCH-{first + i:08d}",
                "category_code": rng.choice(codes),
                "description": "Đèn đường hỏng",
                "description_key": "den duong hong",
                "answers": {},
                "lat": rng.uniform(LAT0, LAT1),
                "lon": rng.uniform(LON0, LON1),
                "state": rng.choice(states),
                "submitted_at": at,
                "updated_at": at,
                "sla_hours": 40.0,
                "hidden": False,
                "version": 1,
            }
        )
        if len(rows) == 20_000:
            session.execute(insert(Case), rows)
            rows = []
    if rows:
        session.execute(insert(Case), rows)
    session.commit()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))")
        )
        session.execute(text("ANALYZE"))
        session.commit()
    return codes


def categories(session: Session) -> None:
    """The report categories (what report submission needs when no cases are seeded)."""
    sync_categories(session)
    session.commit()


def ingest_key(session: Session) -> str:
    _row, key = create_api_key(session, name="bench", scopes=["ingest"])
    session.commit()
    return key


def bulk_observations(session: Session, ds_ids: list[int], start: datetime, per_ds: int) -> int:
    """Raw observations (no roll-ups) for the query figures: executemany on SQLite, COPY on PostgreSQL."""
    rng = random.Random(len(ds_ids))
    pg = session.get_bind().dialect.name == "postgresql"
    total = 0
    for ds in ds_ids:
        raw: Any = session.connection().connection.driver_connection  # this transaction's connection
        rows = [(ds, start + timedelta(minutes=k), round(rng.uniform(5, 45), 2), 0) for k in range(per_ds)]
        cols = "datastream_id, phenomenon_time, result_number, quality_flags"
        if pg:
            with raw.cursor() as cur, cur.copy(f"COPY sta_observations ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            cur = raw.cursor()
            cur.executemany(
                f"INSERT INTO sta_observations ({cols}) VALUES (?, ?, ?, ?)",
                [
                    (d, t.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds"), v, q)
                    for d, t, v, q in rows
                ],
            )
            cur.close()
        session.commit()
        total += len(rows)
    if pg:
        session.execute(text("ANALYZE sta_observations"))
        session.commit()
    return total

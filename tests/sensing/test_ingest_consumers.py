"""The observation consumers' lookups are set-based over an event's batch (#22): which datastreams the
alert rules target, and the communes the indicator cells need, cost the same statements for 2 datastreams
as for 10, and decide as the per-datastream lookups do; both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.alerts.service import datastreams_with_rules, rules_for
from cityops.events.bus import Event
from cityops.sensing.indicators import touched
from cityops.sensing.models import Datastream
from tests.alerts.support import make_area, make_station, salinity_rule
from tests.kit.queries import count_queries

T = "2026-03-01T10:15:00Z"


def _event(ds_ids: list[int]) -> Event:
    payload: dict[str, Any] = {
        "v": 2,
        "ids": list(range(1, len(ds_ids) + 1)),
        "datastreams": ds_ids,
        "phenomenon_times": [T] * len(ds_ids),
        "results": [1.0] * len(ds_ids),
        "quality_flags": [0] * len(ds_ids),
        "count": len(ds_ids),
    }
    return Event(subject="observations.created", payload=payload)


def test_datastreams_with_rules_decides_as_rules_for_in_two_statements(session: Session) -> None:
    north, south = make_area(session, "Phường 1", "p1"), make_area(session, "Phường 2", "p2")
    scoped = [make_station(session, f"Mặn {i}", "salinity", area_ids=[north.id]).id for i in range(4)]
    elsewhere = [make_station(session, f"Mặn nam {i}", "salinity", area_ids=[south.id]).id for i in range(3)]
    other = [make_station(session, f"Mưa {i}", "rainfall").id for i in range(3)]
    salinity_rule(session, area_ids=[north.id])
    direct = salinity_rule(session)  # then pointed at one rainfall datastream by id
    direct.property_code, direct.datastream_id = None, other[0]
    session.commit()
    everything = scoped + elsewhere + other
    expected = {d for d in everything if rules_for(session, session.get(Datastream, d))}  # type: ignore[arg-type]
    assert expected == {*scoped, other[0]}
    engine = session.get_bind()
    with count_queries(engine) as few:  # type: ignore[arg-type]
        assert datastreams_with_rules(session, [scoped[0], elsewhere[0]]) == {scoped[0]}
    with count_queries(engine) as many:  # type: ignore[arg-type]
        assert datastreams_with_rules(session, everything) == expected
    assert few.count == many.count == 2, str(many)


def test_indicator_touched_reads_only_the_batch(session: Session) -> None:
    ids = [make_station(session, f"Trạm {i}", "salinity").id for i in range(10)]
    session.commit()
    engine = session.get_bind()
    with count_queries(engine) as few:  # type: ignore[arg-type]
        two = touched(session, _event(ids[:2]))
    with count_queries(engine) as many:  # type: ignore[arg-type]
        ten = touched(session, _event(ids))
    assert few.count == many.count, str(many)
    hour = datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert two == ten == [(None, hour)]  # unlocated stations: no commune, one fact per hour

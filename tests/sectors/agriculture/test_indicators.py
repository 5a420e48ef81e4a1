"""Sluice gate operations: status changes to another status count, confirmations do not."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.places.models import Place
from cityops.places.service import change_status
from cityops.places.types import get_type
from cityops.plugins import declarations
from cityops.sectors.agriculture.demo import load
from cityops.sectors.agriculture.indicators import gate_operations, indicators
from cityops.specs import IndicatorSpec


def test_gate_operations_count_changes_only(session: Session) -> None:
    load(session, Console(quiet=True))
    gate = session.scalars(select(Place).where(Place.name == "Cống đầu kênh Bảo Định")).one()  # open
    ptype = get_type(session, "sluice_gate")
    start = utcnow() - timedelta(minutes=1)
    for status in ("closed", "closed", "partly_open", "open"):  # 3 operations and 1 confirmation
        change_status(session, gate, ptype, status, actor=None)
    change_status(session, gate, ptype, "maintenance", actor=None)  # not an operation of the gate
    session.flush()
    spec = indicators()[0]
    end = utcnow() + timedelta(minutes=1)
    measures = gate_operations(session, spec, {1: None}, start, end)
    assert measures[1].value == 3
    # a window before the changes counts none
    assert gate_operations(session, spec, {1: None}, start - timedelta(days=1), start)[1].value == 0
    # a target whose areas hold no gate counts none
    assert gate_operations(session, spec, {1: frozenset({-1})}, start, end)[1].value == 0


def test_indicators_are_declared_by_the_sector() -> None:
    codes = [spec.code for _plugin, spec in declarations("indicators", IndicatorSpec)]
    assert {"agriculture.gate_operations_month", "agriculture.gate_operations_quarter"} <= set(codes)


def test_farthest_intrusion_of_the_period(session: Session) -> None:
    from datetime import UTC, datetime

    from cityops.sectors.agriculture.indicators import intrusion_max_km
    from cityops.sensing.ingest import ObservationIn, ingest_observations
    from cityops.sensing.stations import datastream_index, load_stations
    from tests.sectors.agriculture.test_salinity import STATIONS

    load_stations(session, STATIONS)
    index = {code: ds.id for (code, prop), ds in datastream_index(session).items() if prop == "salinity"}
    day1, day2 = datetime(2026, 3, 10, 6, tzinfo=UTC), datetime(2026, 3, 11, 6, tzinfo=UTC)
    # day 1: the worked example of test_salinity (4 g/L at km 38.3); day 2: lower (5.0 at km 32, 2.0 at km 45):
    # 32 + (ln 5 − ln 4)/(ln 5 − ln 2) × 13 = 32 + 0.22314/0.91629 × 13 = 35.2
    rows = [
        ObservationIn(index[code], when, value)
        for when, values in ((day1, {"VC-CANDUOC": 5.72, "VC-TANTRU": 2.72, "VCT-TANAN": 1.04}),
                             (day2, {"VC-CANDUOC": 5.0, "VC-TANTRU": 2.0, "VCT-TANAN": 0.8}))
        for code, value in values.items()
    ]  # fmt: skip
    ingest_observations(session, rows, emit_event=False)
    session.flush()
    spec = next(i for i in indicators() if i.code == "agriculture.intrusion_4_km_month")
    march = intrusion_max_km(
        session, spec, {1: None}, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    assert (march[1].value, march[1].inputs) == (38.3, 2)
    only_day2 = intrusion_max_km(
        session, spec, {1: None}, day2.replace(hour=0), datetime(2026, 3, 12, tzinfo=UTC)
    )
    assert only_day2[1].value == 35.2
    one = next(i for i in indicators() if i.code == "agriculture.intrusion_1_km_month")
    # 1 g/L: day 1 every Vàm Cỏ Tây station is ≥ 1 → beyond km 62 (a floor)
    assert (
        intrusion_max_km(
            session, one, {1: None}, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
        )[1].value
        == 62
    )

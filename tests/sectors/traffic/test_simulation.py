"""The traffic counters' model: rush-hour peaks, busier roads, lighter weekends, speed falling with flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from statistics import mean

from cityops.sectors.traffic.simulation import RoadCounter
from cityops.sectors.traffic.stations import STATIONS
from cityops.sensing.simulator import local_hour

QL1 = RoadCounter(scale=1.0)
QL62 = RoadCounter(scale=0.5)


def every(start: datetime, days: int, step_min: int = 15) -> list[datetime]:
    return [start + timedelta(minutes=step_min * i) for i in range(days * 24 * 60 // step_min)]


def _by_local_hour(values: list[tuple[datetime, float]], hours: range) -> float:
    return mean(v for t, v in values if int(local_hour(t)) in hours)


def test_weekday_rush_hours_peak_and_roads_differ() -> None:
    days = every(datetime(2026, 5, 4, tzinfo=UTC), 5)  # Monday–Friday local time (mostly)
    ql1 = [(t, QL1.count(t, "QL1", "traffic_motorbike")) for t in days]
    ql62 = [(t, QL62.count(t, "QL62", "traffic_motorbike")) for t in days]
    noon = _by_local_hour(ql1, range(12, 13))
    assert _by_local_hour(ql1, range(7, 8)) > 1.3 * noon  # morning rush
    assert _by_local_hour(ql1, range(17, 18)) > 1.3 * noon  # evening rush
    assert noon > 3 * _by_local_hour(ql1, range(2, 3))
    assert mean(v for _, v in ql1) > 1.5 * mean(v for _, v in ql62)
    # Speed falls at rush hour.
    speeds = [(t, QL1.mean_speed(t, "QL1")) for t in days]
    assert _by_local_hour(speeds, range(7, 8)) < _by_local_hour(speeds, range(2, 3)) - 10


def test_weekends_are_lighter_and_trucks_run_at_night() -> None:
    weekday = every(datetime(2026, 5, 4, tzinfo=UTC), 1)  # a Monday (local)
    sunday = every(datetime(2026, 5, 10, tzinfo=UTC), 1)
    rush = range(17, 18)
    assert _by_local_hour([(t, QL1.count(t, "QL1", "traffic_car")) for t in sunday], rush) < 0.7 * (
        _by_local_hour([(t, QL1.count(t, "QL1", "traffic_car")) for t in weekday], rush)
    )
    night = [(t, QL1.count(t, "QL1", "traffic_heavy") / QL1.count(t, "QL1", "traffic_car")) for t in weekday]
    assert _by_local_hour(night, range(1, 3)) > 1.5 * _by_local_hour(night, range(12, 13))


def test_counter_stations_are_simulated_on_every_property() -> None:
    t = datetime(2026, 5, 4, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    for station in STATIONS:
        values = {p: station.model.value_of(p, t, station, 0) for p in station.properties}
        assert all(v is not None and v >= 0 for v in values.values()), station.code
    assert STATIONS[0].model.value_of("salinity", t, STATIONS[0], 0) is None

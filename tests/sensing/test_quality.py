"""Data-quality checks and station health (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cityops.sensing.properties import declared
from cityops.sensing.quality import (
    QualityConfig,
    QualityFlag,
    StationHealth,
    assess,
    describe,
    gap_check,
    range_check,
    spike_check,
    station_health,
    stuck_check,
)

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
OK, RANGE, SPIKE, STUCK, GAP = (
    QualityFlag.OK,
    QualityFlag.RANGE,
    QualityFlag.SPIKE,
    QualityFlag.STUCK,
    QualityFlag.GAP,
)


def test_bits_are_stable() -> None:
    assert [int(f) for f in (RANGE, SPIKE, STUCK, GAP, QualityFlag.LATE, QualityFlag.MANUAL)] == [
        1,
        2,
        4,
        8,
        16,
        32,
    ]
    assert describe(5) == ["RANGE", "STUCK"]
    assert describe(0) == []


def test_range_uses_property_ranges() -> None:
    salinity = declared()["salinity"]
    assert range_check(
        [-0.1, 0.0, 4.2, 45.0, 46.0, float("nan")], salinity.valid_min, salinity.valid_max
    ) == [
        RANGE,
        OK,
        OK,
        OK,
        RANGE,
        RANGE,
    ]
    # Per-datastream limits: only an upper bound.
    assert range_check([1.0, 9.0], None, 5.0) == [OK, RANGE]


def test_spike_needs_both_neighbours_in_the_same_direction() -> None:
    values = [1.0, 1.1, 9.0, 1.2, 1.3, 5.0, 5.1]
    # 9.0 jumps +7.9 and −7.8 → spike; 5.0 is a step (neighbours 1.3 and 5.1) → not a spike
    assert spike_check(values, 2.0) == [OK, OK, SPIKE, OK, OK, OK, OK]
    # Downward spike too; endpoints never flagged.
    assert spike_check([50.0, 2.0, 49.0, 48.0, 0.0], 10.0) == [OK, SPIKE, OK, OK, OK]
    with pytest.raises(ValueError, match="positive"):
        spike_check(values, 0)


def test_stuck_runs() -> None:
    values = [1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0]
    assert stuck_check(values, 3) == [OK, STUCK, STUCK, STUCK, OK, OK, STUCK, STUCK, STUCK, STUCK]
    assert stuck_check(values, 5) == [OK] * 10
    # Tolerance: values within 0.01 count as identical.
    assert stuck_check([1.0, 1.005, 1.0, 2.0], 3, tolerance=0.01) == [STUCK, STUCK, STUCK, OK]
    with pytest.raises(ValueError, match="at least 2"):
        stuck_check(values, 1)


def test_gaps() -> None:
    times = [T0, T0 + timedelta(minutes=5), T0 + timedelta(minutes=20), T0 + timedelta(minutes=36)]
    # expected 5 min, factor 3 → more than 15 min is a gap; exactly 15 is not
    assert gap_check(times, timedelta(minutes=5)) == [OK, OK, OK, GAP]
    assert gap_check(times, timedelta(minutes=5), factor=2) == [OK, OK, GAP, GAP]
    with pytest.raises(ValueError, match="positive"):
        gap_check(times, timedelta(0))


def test_assess_combines_and_keeps_input_order() -> None:
    step = timedelta(minutes=5)
    pts = [(T0 + step * i, v) for i, v in enumerate([1.0, 1.2, 30.0, 1.1, 1.1, 1.1, 1.1])]
    pts.append((T0 + step * 20, 60.0))
    shuffled = [pts[3], pts[0], pts[7], pts[2], pts[1], pts[4], pts[5], pts[6]]
    config = QualityConfig(low=0, high=45, spike_threshold=5, stuck_run=4, expected_interval=step)
    flags = assess(shuffled, config)
    by_time = dict(zip([p[0] for p in shuffled], flags, strict=True))
    assert by_time[pts[2][0]] == SPIKE
    assert by_time[pts[3][0]] == STUCK
    assert by_time[pts[7][0]] == RANGE | GAP
    assert by_time[pts[0][0]] == OK
    assert int(by_time[pts[7][0]]) == 9
    assert assess([], config) == []


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(minutes=0), StationHealth.ONLINE),
        (timedelta(minutes=10), StationHealth.ONLINE),
        (timedelta(minutes=11), StationHealth.LATE),
        (timedelta(minutes=30), StationHealth.LATE),
        (timedelta(minutes=31), StationHealth.OFFLINE),
    ],
)
def test_station_health(age: timedelta, expected: StationHealth) -> None:
    now = T0 + timedelta(hours=1)
    assert station_health(now - age, timedelta(minutes=5), now) is expected


def test_station_health_edge_cases() -> None:
    assert station_health(None, timedelta(minutes=5), T0) is StationHealth.OFFLINE
    with pytest.raises(ValueError, match="positive"):
        station_health(T0, timedelta(0), T0)
    with pytest.raises(ValueError, match="late_after"):
        station_health(T0, timedelta(minutes=1), T0, late_after=5, offline_after=2)


def test_config_for_a_property_and_datastream_overrides() -> None:
    from cityops.sensing.quality import config_for

    cfg = config_for("salinity", {"expected_interval_s": 300})
    assert (cfg.low, cfg.high, cfg.spike_threshold, cfg.stuck_run) == (0, 45, 5.0, 24)
    assert cfg.expected_interval == timedelta(minutes=5)
    own = config_for("salinity", {"quality": {"high": 10, "stuck_run": 3, "bogus": 1, "gap_factor": 2}})
    assert (own.high, own.stuck_run, own.gap_factor, own.expected_interval) == (10.0, 3, 2.0, None)
    assert config_for(None) == QualityConfig()
    assert config_for("unknown-code").low is None


def test_flags_for_new_points_use_the_history() -> None:
    from cityops.sensing.quality import config_for, flags_for_new

    step = timedelta(minutes=5)
    cfg = config_for("salinity", {"expected_interval_s": 300, "quality": {"stuck_run": 4}})
    history = [(T0 + step * i, 1.2) for i in range(3)]
    # The 4th identical value completes a stuck run; 60 is out of range and a one-point excursion;
    # the gap before the last is flagged.
    new = [(T0 + step * 3, 1.2), (T0 + step * 4, 60.0), (T0 + step * 30, 1.5)]
    assert flags_for_new(history, new, cfg) == [STUCK, RANGE | SPIKE, GAP]
    # A spike is seen once its next neighbour exists.
    assert flags_for_new(history, [(T0 + step * 3, 9.0)], cfg) == [OK]
    with_spike = [*history, (T0 + step * 3, 9.0)]
    assert flags_for_new(with_spike, [(T0 + step * 4, 1.3)], cfg) == [OK]
    assert assess([*with_spike, (T0 + step * 4, 1.3)], cfg)[3] == SPIKE  # re-flag the stored point

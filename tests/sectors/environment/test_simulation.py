"""Statistical properties of the environment's station models: tides, salinity intrusion, urban PM."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest

from cityops.sectors.environment.simulation import M2_HOURS, AirStation, RiverStation, tide
from cityops.sensing.simulator import StationSpec, local_hour

DOWNSTREAM = RiverStation(distance_to_sea_km=25)
UPSTREAM = RiverStation(distance_to_sea_km=60)
AIR = AirStation()
AIR_STATION = StationSpec("AQ", "Tân An", "air", 10.54, 106.41, ("pm25", "pm10"), AIR, interval_s=3600)


def hourly(start: datetime, days: int, step_min: int = 10) -> list[datetime]:
    return [start + timedelta(minutes=step_min * i) for i in range(days * 24 * 60 // step_min)]


def test_tide_period_is_semi_diurnal() -> None:
    # High waters over 30 days: the mean spacing of successive maxima is the M2 period (12.42 h).
    times = hourly(datetime(2026, 3, 1, tzinfo=UTC), 30)
    heights = [tide(t) for t in times]
    peaks = [times[i] for i in range(1, len(times) - 1) if heights[i - 1] < heights[i] >= heights[i + 1]]
    spacing = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(peaks)]
    assert 55 <= len(peaks) <= 60
    assert mean(spacing) == pytest.approx(M2_HOURS, abs=0.1)
    # Spring–neap: the daily range varies by a factor > 2 over a fortnight (M2 + 0.46 S2).
    ranges = [
        max(heights[d * 144 : (d + 1) * 144]) - min(heights[d * 144 : (d + 1) * 144]) for d in range(30)
    ]
    assert max(ranges) / min(ranges) > 2


def test_salinity_is_higher_in_the_dry_season_and_downstream() -> None:
    march = hourly(datetime(2026, 3, 20, tzinfo=UTC), 7)
    september = hourly(datetime(2026, 9, 20, tzinfo=UTC), 7)
    up_dry = mean(UPSTREAM.salinity(t, "TA") for t in march)
    up_wet = mean(UPSTREAM.salinity(t, "TA") for t in september)
    down_dry = mean(DOWNSTREAM.salinity(t, "CG") for t in march)
    assert up_dry > 5 * up_wet
    assert down_dry > 2 * up_dry
    # Upstream of Tân An salinity reaches the 1 g/L crop threshold in the dry season but not in the wet.
    assert max(UPSTREAM.salinity(t, "TA") for t in march) > 1.0
    assert max(UPSTREAM.salinity(t, "TA") for t in september) < 1.0
    # The tide drives salinity: correlation with the (lagged) water level is strongly positive.
    lagged = [UPSTREAM.water_level(t - timedelta(hours=1), "TA") for t in march]
    values = [UPSTREAM.salinity(t, "TA") for t in march]
    assert _corr(lagged, values) > 0.8


def _corr(xs: list[float], ys: list[float]) -> float:
    mx, my = mean(xs), mean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    return num / den


def _by_local_hour(values: list[tuple[datetime, float]], hours: range) -> float:
    return mean(v for t, v in values if int(local_hour(t)) in hours)


def test_pm25_rush_hours_and_dry_season() -> None:
    jan = [(t, AIR.pm25(t, "AQ")) for t in hourly(datetime(2026, 1, 5, tzinfo=UTC), 14, 30)]
    aug = [(t, AIR.pm25(t, "AQ")) for t in hourly(datetime(2026, 8, 5, tzinfo=UTC), 14, 30)]
    morning, evening = _by_local_hour(jan, range(7, 9)), _by_local_hour(jan, range(18, 20))
    noon, night = _by_local_hour(jan, range(12, 14)), _by_local_hour(jan, range(3, 5))
    assert morning > 1.4 * noon
    assert evening > 1.4 * noon
    assert morning > night
    assert mean(v for _, v in jan) > 1.3 * mean(v for _, v in aug)
    assert all(v > 0 for _, v in jan)


def test_models_are_deterministic_per_seed_and_simulate_only_their_properties() -> None:
    t = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert UPSTREAM.salinity(t, "TA", seed=1) == UPSTREAM.salinity(t, "TA", seed=1)
    assert AIR.pm25(t, "AQ", seed=1) != AIR.pm25(t, "AQ", seed=2)
    assert AIR.value_of("pm10", t, AIR_STATION) == round(AIR.pm25(t, "AQ") * 1.6 + 4.0, 1)
    assert AIR.value_of("noise", t, AIR_STATION) is None
    assert UPSTREAM.value_of("pm25", t, AIR_STATION) is None


def test_gases_follow_traffic_and_the_sun() -> None:
    day = datetime(2026, 3, 25, tzinfo=UTC)  # local time = UTC + 7
    at = {h: day + timedelta(hours=h - 7) for h in (8, 13, 14, 19)}
    # O3 is photochemical: higher at 14:00 than in the morning rush hour
    assert AIR.o3(at[14], "AQ") > 2 * AIR.o3(at[8], "AQ")
    # NO2 and CO follow the rush hours: higher at 19:00 than at 13:00
    assert AIR.no2(at[19], "AQ") > AIR.no2(at[13], "AQ")
    assert AIR.co(at[19], "AQ") > AIR.co(at[13], "AQ")
    assert AIR.value_of("so2", at[8], AIR_STATION) == AIR.so2(at[8], "AQ")


def test_water_quality_probes() -> None:
    t = datetime(2026, 3, 25, 8, tzinfo=UTC)
    assert 6.0 < UPSTREAM.ph(t, "X") < 8.0
    # DO between 65 % and 100 % of saturation at the water temperature
    temp = UPSTREAM.value_of("water_temperature", t, AIR_STATION)
    assert temp is not None
    saturation = 14.652 - 0.41022 * temp + 0.0079910 * temp**2 - 0.000077774 * temp**3
    assert 0.65 * saturation < UPSTREAM.dissolved_oxygen(t, "X") < saturation
    assert UPSTREAM.turbidity(t, "X") > 0

"""The environment's indicators: days with good air (VN_AQI), salinity exceedance days, stations.

Days with good air count the local days whose daily VN_AQI (Decision 1459/QĐ-TCMT: 24-hour means of PM2.5,
PM10, CO, SO2 and NO2, at least 18 hours, and O3 from the day's highest 1-hour mean) at the worst station of
the area is at most 50 ("Tốt") or 100 ("Trung bình"). A day needs a PM sub-index, as the decision requires. Salinity days count the days whose highest hourly salinity at the worst station reached 1 g/L
(harms sensitive crops) or 4 g/L (harms rice). Both read the sensing roll-ups.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cityops.sectors.environment.aqi import Pollutant, sub_index
from cityops.sensing.indicators import calculator, count_days, daily_worst
from cityops.specs import AreaGroups, IndicatorCalculatorSpec, IndicatorSource, IndicatorSpec, Measure, Period

MIN_HOURS = 18  # hours of a day a 24-hour mean needs (Decision 1459/QĐ-TCMT)
NATIONAL = "vn_smart_city_2026"
ISO = "iso_37122"
SCHEME = "long_an_scheme_2020"


def _daily_sub_index(pollutant: Pollutant, min_hours: int) -> Any:
    def day_value(hours: list[float]) -> float | None:
        if len(hours) < min_hours:
            return None
        value = max(hours) if pollutant is Pollutant.O3_1H else sum(hours) / len(hours)
        index = sub_index(pollutant, value)
        return None if index is None else float(index)

    return day_value


#: The daily VN_AQI inputs: PM first (a day needs one of them), then the gases.
PM_INPUTS = (("pm25", Pollutant.PM25), ("pm10", Pollutant.PM10))
GAS_INPUTS = (("co", Pollutant.CO), ("so2", Pollutant.SO2), ("no2", Pollutant.NO2), ("o3", Pollutant.O3_1H))


def aqi_days(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Days whose daily VN_AQI (the largest sub-index) at the worst station is ``<= params["max_aqi"]``."""
    min_hours = int(spec.params.get("min_hours", MIN_HOURS))
    per_area: dict[int | None, dict[date, float]] = {}
    for inputs, pm in ((PM_INPUTS, True), (GAS_INPUTS, False)):
        for code, pollutant in inputs:
            days = daily_worst(session, code, start, end, _daily_sub_index(pollutant, min_hours), stat="mean")
            for area, values in days.items():
                merged = per_area.setdefault(area, {})
                for day, v in values.items():
                    if pm or day in merged:  # a gas counts only on a day with a PM sub-index
                        merged[day] = max(merged.get(day, v), v)
    limit = float(spec.params["max_aqi"])
    return count_days(groups, per_area, lambda v: v <= limit)


def wqi_mean(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    """Mean VN_WQI of the water stations whose latest sample before ``end`` was taken in [start, end)."""
    from sqlalchemy import select

    from cityops.indicators.calc import members
    from cityops.sectors.environment.water_quality import stations_wqi
    from cityops.sensing.models import Thing

    things = [
        t
        for t in session.scalars(select(Thing).order_by(Thing.id)).all()
        if (t.properties or {}).get("station_code") and (t.properties or {}).get("kind") == "water"
    ]
    results = stations_wqi(session, [t.id for t in things], end - timedelta(microseconds=1))
    per_area: dict[int | None, list[float]] = {}
    for t in things:
        r = results[t.id]
        if r.result.wqi is None or r.sample_time is None or r.sample_time < start:
            continue
        areas = (t.properties or {}).get("area_ids") or [None]
        per_area.setdefault(areas[0], []).append(float(r.result.wqi))
    out = {}
    for target, parts in members(groups, per_area).items():
        values = [v for part in parts for v in part]
        total = sum(values)
        out[target] = Measure(total / len(values) if values else None, len(values), total, float(len(values)))
    return out


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        calculator("environment.aqi_days", aqi_days, "days whose daily VN_AQI is at most a limit"),
        calculator(
            "environment.wqi_mean", wqi_mean, "mean VN_WQI of the water stations sampled in the period"
        ),
    ]


def _days(
    code: str,
    vi: str,
    en: str,
    direction: str,
    method: str,
    params: dict[str, Any],
    sets: tuple[tuple[str, str], ...],
) -> IndicatorSpec:
    return IndicatorSpec(
        code=code, name_vi=vi, name_en=en, unit="d", direction=direction,  # type: ignore[arg-type]
        period=Period.MONTH, source=IndicatorSource.OBSERVATIONS, sector="environment", method=method,
        params=params, aggregation="direct", decimals=0, sets=sets,
    )  # fmt: skip


def indicators() -> list[IndicatorSpec]:
    return [
        _days("environment.good_air_days", "Số ngày chất lượng không khí tốt (VN_AQI ≤ 50)",
              "Days with good air (VN_AQI ≤ 50)", "higher", "environment.aqi_days", {"max_aqi": 50},
              ((NATIONAL, "MT.1"), (ISO, "8.1"))),
        _days("environment.fair_air_days", "Số ngày chất lượng không khí từ trung bình trở lên (VN_AQI ≤ 100)",
              "Days with acceptable air (VN_AQI ≤ 100)", "higher", "environment.aqi_days", {"max_aqi": 100},
              ((NATIONAL, "MT.2"),)),
        _days("environment.salinity_days_1", "Số ngày độ mặn ≥ 1 g/L", "Days with salinity ≥ 1 g/L", "lower",
              "observations.days_vs_threshold", {"property": "salinity", "threshold": 1.0, "op": "ge"},
              ((SCHEME, "MT.3"),)),
        IndicatorSpec(
            code="environment.wqi_mean", name_vi="Chỉ số chất lượng nước VN_WQI trung bình của các trạm",
            name_en="Mean VN_WQI of the water stations", unit="1", direction="higher", period=Period.MONTH,
            source=IndicatorSource.OBSERVATIONS, sector="environment", method="environment.wqi_mean",
            description_vi="VN_WQI (Quyết định 1460/QĐ-TCMT) của mẫu nước mới nhất trong tháng ở mỗi trạm, trung bình theo địa bàn; 91–100 rất tốt, 76–90 tốt, 51–75 trung bình.",
            description_en="VN_WQI (Decision 1460/QĐ-TCMT) of each station's latest sample of the month, averaged over the area; 91–100 very good, 76–90 good, 51–75 medium.",
            decimals=0, aggregation="ratio",
        ),
        _days("environment.salinity_days_4", "Số ngày độ mặn ≥ 4 g/L (gây hại lúa)",
              "Days with salinity ≥ 4 g/L (harms rice)", "lower", "observations.days_vs_threshold",
              {"property": "salinity", "threshold": 4.0, "op": "ge"}, ((SCHEME, "MT.4"),)),
    ]  # fmt: skip

"""VN_AQI, the Vietnamese air quality index, as Decision 1459/QĐ-TCMT (12 November 2019) computes it.

Sources:
- Quyết định 1459/QĐ-TCMT ngày 12/11/2019 của Tổng cục Môi trường, "Hướng dẫn kỹ thuật tính toán và công
  bố chỉ số chất lượng không khí Việt Nam (VN_AQI)" (published by cem.gov.vn and thuvienphapluat.vn):
  Bảng 1 (AQI ranges, labels, colours with their RGB codes), Bảng 2 (breakpoints I_i / BP_i),
  Công thức 1 and 2 (linear interpolation), the Nowcast weighting of PM2.5/PM10 hourly values.
- The CEM announcement of 13/11/2019 (the six bands and RGB codes, and the rule that at least one of
  PM10 and PM2.5 is required).

The method, in the decision's words, as implemented here:

* Sub-index (Công thức 1/2): ``AQI_x = (I_{i+1} − I_i) / (BP_{i+1} − BP_i) × (C_x − BP_i) + I_i`` for
  ``BP_i ≤ C_x ≤ BP_{i+1}``, rounded to an integer (half up).
* Hourly AQI: O3, CO, SO2, NO2 from the 1-hour mean of the hour; PM2.5 and PM10 from the **Nowcast** of
  the last 12 hourly means c1 (latest) … c12: ``w* = c_min / c_max`` over the 12 hours; ``w = w*`` when
  ``w* > 1/2`` else ``w = 1/2``; ``Nowcast = Σ w^(i−1)·c_i / Σ w^(i−1)``. The Nowcast needs at least two of
  the three latest hours (c1, c2, c3); a missing hour drops out of both sums (it keeps its exponent).
  The decision writes the ``w = 1/2`` case as ``Σ (1/2)^i·c_i``, which equals the normalised form up to
  the factor ``2 / Σ_{i=1..12} (1/2)^(i−1) = 1.00024`` with 12 full hours; we use the normalised form in
  both cases so a missing hour does not bias the value down.
* Daily AQI: 24-hour means of CO, SO2, NO2, PM10, PM2.5; for O3 the larger of the sub-indices of the day's
  highest 1-hour mean and of the day's highest 8-hour mean. The 8-hour table stops at 400 µg/m³; above it
  only the 1-hour sub-index is used (as the decision prescribes).
* Overall AQI (hourly or daily) = the maximum of the available sub-indices, and only when at least one of
  PM10 and PM2.5 has a sub-index; otherwise there is no AQI for that hour/day.

Decisions where the text is silent: concentrations above the last breakpoint give 500 (the scale's top);
negative concentrations are treated as missing; an 8-hour mean needs 6 of its 8 hours; a 24-hour mean
needs 18 of 24 hours (both are the usual completeness rules of monitoring networks, configurable here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Pollutant(StrEnum):
    O3_1H = "o3_1h"
    O3_8H = "o3_8h"
    CO = "co"
    SO2 = "so2"
    NO2 = "no2"
    PM10 = "pm10"
    PM25 = "pm25"


#: I_i, the index values at the breakpoints (Bảng 2, first column).
INDEX_BREAKPOINTS: tuple[int, ...] = (0, 50, 100, 150, 200, 300, 400, 500)

#: BP_i in µg/m³ for each pollutant (Bảng 2). The O3 8-hour table ends at 400 µg/m³ (I = 300).
BREAKPOINTS: dict[Pollutant, tuple[float, ...]] = {
    Pollutant.O3_1H: (0, 160, 200, 300, 400, 800, 1000, 1200),
    Pollutant.O3_8H: (0, 100, 120, 170, 210, 400),
    Pollutant.CO: (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
    Pollutant.SO2: (0, 125, 350, 550, 800, 1600, 2100, 2630),
    Pollutant.NO2: (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    Pollutant.PM10: (0, 50, 150, 250, 350, 420, 500, 600),
    Pollutant.PM25: (0, 25, 50, 80, 150, 250, 350, 500),
}


@dataclass(frozen=True, slots=True)
class Band:
    """One of the six VN_AQI ranges (Bảng 1)."""

    low: int
    high: int
    label_vi: str
    label_en: str
    colour_vi: str
    colour_en: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


BANDS: tuple[Band, ...] = (
    Band(0, 50, "Tốt", "Good", "Xanh", "Green", (0, 228, 0)),
    Band(51, 100, "Trung bình", "Moderate", "Vàng", "Yellow", (255, 255, 0)),
    Band(101, 150, "Kém", "Poor", "Da cam", "Orange", (255, 126, 0)),
    Band(151, 200, "Xấu", "Bad", "Đỏ", "Red", (255, 0, 0)),
    Band(201, 300, "Rất xấu", "Very bad", "Tím", "Purple", (143, 63, 151)),
    Band(301, 500, "Nguy hại", "Hazardous", "Nâu", "Maroon", (126, 0, 35)),
)


def band_for(aqi: int) -> Band:
    """The band an (integer) AQI falls in; values above 500 are in the last band."""
    if aqi < 0:
        raise ValueError("AQI cannot be negative")
    for band in BANDS:
        if aqi <= band.high:
            return band
    return BANDS[-1]


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _present(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and value >= 0


def sub_index_exact(pollutant: Pollutant, concentration: float) -> float | None:
    """Công thức 1/2 without rounding; None when the table does not cover the value (O3 8-hour > 400)."""
    if not _present(concentration):
        return None
    bps = BREAKPOINTS[pollutant]
    if concentration > bps[-1]:
        return None if pollutant is Pollutant.O3_8H else 500.0
    for i in range(len(bps) - 1):
        lo, hi = bps[i], bps[i + 1]
        if lo <= concentration <= hi:
            i_lo, i_hi = INDEX_BREAKPOINTS[i], INDEX_BREAKPOINTS[i + 1]
            return (i_hi - i_lo) / (hi - lo) * (concentration - lo) + i_lo
    raise AssertionError("unreachable: breakpoints start at 0")


def sub_index(pollutant: Pollutant, concentration: float | None) -> int | None:
    """The sub-index AQI_x of one pollutant, rounded half up; None when missing or not covered."""
    if concentration is None:
        return None
    exact = sub_index_exact(pollutant, concentration)
    return None if exact is None else round_half_up(exact)


def nowcast(hourly: Sequence[float | None]) -> float | None:
    """Nowcast of PM2.5/PM10 from hourly means, latest first (``hourly[0]`` = c1); up to 12 are used.

    None when fewer than two of c1, c2, c3 are present.
    """
    values = list(hourly[:12])
    latest = values[:3]
    if sum(1 for v in latest if v is not None and _present(v)) < 2:
        return None
    present = [(i, v) for i, v in enumerate(values) if v is not None and _present(v)]
    c_max = max(v for _, v in present)
    if c_max == 0:
        return 0.0
    w_star = min(v for _, v in present) / c_max
    w = w_star if w_star > 0.5 else 0.5
    num = sum(w**i * v for i, v in present)
    den = sum(w**i for i, _ in present)
    return num / den


def mean(values: Sequence[float | None], *, min_count: int) -> float | None:
    """Arithmetic mean of the present values, or None when fewer than ``min_count`` are present."""
    present = [v for v in values if v is not None and _present(v)]
    if len(present) < min_count or not present:
        return None
    return sum(present) / len(present)


def max_8h_mean(hourly: Sequence[float | None], *, min_count: int = 6) -> float | None:
    """The highest 8-hour running mean over chronologically ordered hourly means."""
    best: float | None = None
    for start in range(0, max(len(hourly) - 7, 0)):
        m = mean(hourly[start : start + 8], min_count=min_count)
        if m is not None and (best is None or m > best):
            best = m
    return best


@dataclass(frozen=True, slots=True)
class AqiResult:
    """An hourly or daily VN_AQI with its sub-indices (keys are :class:`Pollutant` values)."""

    aqi: int | None
    sub_indices: dict[str, int] = field(default_factory=dict)
    dominant: str | None = None
    concentrations: dict[str, float] = field(default_factory=dict)

    @property
    def band(self) -> Band | None:
        return None if self.aqi is None else band_for(self.aqi)


def _combine(subs: dict[Pollutant, int | None], concentrations: dict[Pollutant, float | None]) -> AqiResult:
    present = {p.value: v for p, v in subs.items() if v is not None}
    conc = {p.value: c for p, c in concentrations.items() if c is not None}
    if Pollutant.PM25.value not in present and Pollutant.PM10.value not in present:
        return AqiResult(None, present, None, conc)
    dominant = max(present, key=lambda k: present[k])
    return AqiResult(present[dominant], present, dominant, conc)


def hourly_aqi(
    *,
    pm25_hours: Sequence[float | None] = (),
    pm10_hours: Sequence[float | None] = (),
    o3: float | None = None,
    co: float | None = None,
    so2: float | None = None,
    no2: float | None = None,
) -> AqiResult:
    """Hourly VN_AQI. PM series are hourly means latest first (Nowcast); gases are the hour's 1-hour means."""
    pm25 = nowcast(pm25_hours)
    pm10 = nowcast(pm10_hours)
    conc: dict[Pollutant, float | None] = {
        Pollutant.PM25: pm25,
        Pollutant.PM10: pm10,
        Pollutant.O3_1H: o3,
        Pollutant.CO: co,
        Pollutant.SO2: so2,
        Pollutant.NO2: no2,
    }
    return _combine({p: sub_index(p, c) for p, c in conc.items()}, conc)


def daily_aqi(
    *,
    pm25: float | None = None,
    pm10: float | None = None,
    co: float | None = None,
    so2: float | None = None,
    no2: float | None = None,
    o3_1h_max: float | None = None,
    o3_8h_max: float | None = None,
) -> AqiResult:
    """Daily VN_AQI from 24-hour means (and the O3 maxima of the day: 1-hour and 8-hour)."""
    o3_1h = sub_index(Pollutant.O3_1H, o3_1h_max)
    o3_8h = sub_index(Pollutant.O3_8H, o3_8h_max)
    o3_candidates = [v for v in (o3_1h, o3_8h) if v is not None]
    subs: dict[Pollutant, int | None] = {
        Pollutant.PM25: sub_index(Pollutant.PM25, pm25),
        Pollutant.PM10: sub_index(Pollutant.PM10, pm10),
        Pollutant.CO: sub_index(Pollutant.CO, co),
        Pollutant.SO2: sub_index(Pollutant.SO2, so2),
        Pollutant.NO2: sub_index(Pollutant.NO2, no2),
    }
    conc: dict[Pollutant, float | None] = {
        Pollutant.PM25: pm25,
        Pollutant.PM10: pm10,
        Pollutant.CO: co,
        Pollutant.SO2: so2,
        Pollutant.NO2: no2,
        Pollutant.O3_1H: o3_1h_max,
        Pollutant.O3_8H: o3_8h_max,
    }
    if o3_candidates:
        # Report O3 under the averaging period that gave the larger sub-index.
        key = Pollutant.O3_8H if o3_8h is not None and o3_8h == max(o3_candidates) else Pollutant.O3_1H
        subs[key] = max(o3_candidates)
    return _combine(subs, conc)


def daily_aqi_from_hours(hours: dict[Pollutant, Sequence[float | None]], *, min_hours: int = 18) -> AqiResult:
    """Daily VN_AQI from the day's 24 hourly means per pollutant (chronological order).

    ``hours[Pollutant.O3_1H]`` gives both the O3 1-hour maximum and the 8-hour running means.
    """

    def avg(p: Pollutant) -> float | None:
        return mean(hours.get(p, ()), min_count=min_hours)

    o3 = hours.get(Pollutant.O3_1H, ())
    o3_present = [v for v in o3 if v is not None and _present(v)]
    return daily_aqi(
        pm25=avg(Pollutant.PM25),
        pm10=avg(Pollutant.PM10),
        co=avg(Pollutant.CO),
        so2=avg(Pollutant.SO2),
        no2=avg(Pollutant.NO2),
        o3_1h_max=max(o3_present) if o3_present else None,
        o3_8h_max=max_8h_mean(o3),
    )

"""How far the 1 g/L and 4 g/L salinity lines reach up each river, in km from the mouth (approximate).

The rivers are data (``data/rivers.json``): each names the river reaches its stations may lie on (the
Vàm Cỏ trunk belongs to both the Vàm Cỏ Đông and the Vàm Cỏ Tây) and its mouth. Stations are ordered by
their river kilometre. Salinity falls roughly exponentially with distance from the sea, so between two
stations the line is placed by interpolating ``ln(salinity)`` linearly in km:

    km_T = km_i + (ln S_i − ln T) / (ln S_i − ln S_{i+1}) × (km_{i+1} − km_i)

where station i is the farthest one at or above T and station i+1 the next one upstream (below T). When
every station is at or above T the line lies beyond the last (``beyond_km``); when none is, below the first
(``below_km``). The figures are stated as approximate: stations are few, and the decay is not exactly
exponential. The same computation runs on observed peaks and on forecast peaks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cityops.sectors.agriculture.salinity import StationSalinity
from cityops.sectors.tables import read_table

THRESHOLDS: tuple[float, ...] = (1.0, 4.0)

RIVERS: list[dict[str, Any]] = read_table("cityops.sectors.agriculture", "rivers.json")


@dataclass(frozen=True, slots=True)
class Reach:
    """Where the ``threshold`` line lies: at ``km`` (interpolated), or only bounded by a station."""

    threshold: float
    km: float | None
    bound: Literal["between", "beyond", "below", "none"]
    bound_km: float | None = None

    @property
    def text_vi(self) -> str:
        t = f"{self.threshold:g}".replace(".", ",")
        if self.bound == "between" and self.km is not None:
            return f"Ranh mặn {t} g/L vào khoảng km {self.km:.0f} tính từ cửa sông (ước tính)"
        if self.bound == "beyond":
            return f"Ranh mặn {t} g/L vượt quá km {self.bound_km:g} (trạm xa nhất)"
        if self.bound == "below":
            return f"Ranh mặn {t} g/L chưa tới km {self.bound_km:g} (trạm gần biển nhất)"
        return f"Chưa có số liệu cho ranh mặn {t} g/L"

    @property
    def text_en(self) -> str:
        if self.bound == "between" and self.km is not None:
            return (
                f"The {self.threshold:g} g/L line reaches about km {self.km:.0f} from the mouth (approximate)"
            )
        if self.bound == "beyond":
            return f"The {self.threshold:g} g/L line lies beyond km {self.bound_km:g} (the farthest station)"
        if self.bound == "below":
            return f"The {self.threshold:g} g/L line has not reached km {self.bound_km:g} (the station nearest the sea)"
        return f"No data for the {self.threshold:g} g/L line"


def reach(points: Sequence[tuple[float, float]], threshold: float) -> Reach:
    """The reach of ``threshold`` from (km, salinity) points (any order; salinity > 0)."""
    pts = sorted((km, s) for km, s in points if s is not None and s > 0)
    if not pts:
        return Reach(threshold, None, "none")
    above = [i for i, (_km, s) in enumerate(pts) if s >= threshold]
    if not above:
        return Reach(threshold, None, "below", pts[0][0])
    last = max(above)
    if last == len(pts) - 1:
        return Reach(threshold, None, "beyond", pts[-1][0])
    (k1, s1), (k2, s2) = pts[last], pts[last + 1]
    km = k1 + (math.log(s1) - math.log(threshold)) / (math.log(s1) - math.log(s2)) * (k2 - k1)
    return Reach(threshold, round(km, 1), "between")


@dataclass(frozen=True, slots=True)
class RiverIntrusion:
    code: str
    name_vi: str
    name_en: str
    stations: list[StationSalinity]
    observed: list[Reach]
    forecast: list[Reach]


def river_stations(
    stations: Mapping[str, StationSalinity], river: Mapping[str, Any]
) -> list[StationSalinity]:
    """The stations on the river's reaches that have a river kilometre, from the mouth upstream."""
    reaches = set(river["rivers"])
    return sorted(
        (s for s in stations.values() if s.river in reaches and s.km is not None),
        key=lambda s: s.km or 0.0,
    )


def intrusion(stations: Mapping[str, StationSalinity], now: datetime) -> list[RiverIntrusion]:
    """Each river's observed and forecast reaches of 1 g/L and 4 g/L."""
    out = []
    for river in RIVERS:
        on = river_stations(stations, river)
        observed = [(s.km or 0.0, s.observed_max) for s in on if s.observed_max is not None]
        ahead = [(s.km or 0.0, s.forecast_max) for s in on if s.forecast_max is not None]
        out.append(
            RiverIntrusion(
                code=river["code"],
                name_vi=river["name_vi"],
                name_en=river["name_en"],
                stations=on,
                observed=[reach(observed, t) for t in THRESHOLDS],
                forecast=[reach(ahead, t) for t in THRESHOLDS] if ahead else [],
            )
        )
    return out


def position(
    river: Mapping[str, Any], on: Sequence[StationSalinity], km: float
) -> tuple[float, float] | None:
    """The approximate (lon, lat) of river kilometre ``km``: linear between the mouth and the stations."""
    mouth = river["mouth"]
    chain = [(float(mouth["km"]), float(mouth["lon"]), float(mouth["lat"]))] + [
        (s.km or 0.0, s.lon, s.lat) for s in on if s.lat is not None and s.lon is not None
    ]
    for (k1, x1, y1), (k2, x2, y2) in itertools.pairwise(chain):
        if k1 <= km <= k2 and k2 > k1:
            f = (km - k1) / (k2 - k1)
            return (round(x1 + f * (x2 - x1), 5), round(y1 + f * (y2 - y1), 5))
    return None


def geojson(rivers: Sequence[RiverIntrusion]) -> dict[str, Any]:
    """The map layer: each river's line through its stations, and a point where each line is reached."""
    features: list[dict[str, Any]] = []
    by_code = {r["code"]: r for r in RIVERS}
    for r in rivers:
        river = by_code[r.code]
        mouth = river["mouth"]
        coords = [[mouth["lon"], mouth["lat"]]] + [[s.lon, s.lat] for s in r.stations if s.lat is not None]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": coords},
                "properties": {"name": r.name_vi, "name_en": r.name_en, "kind": "river", "level": "river"},
            }
        )
        for series, reaches in (("observed", r.observed), ("forecast", r.forecast)):
            for rc in reaches:
                if rc.km is None:
                    continue
                where = position(river, r.stations, rc.km)
                if where is None:
                    continue
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": list(where)},
                        "properties": {
                            "name": f"{r.name_vi}: {rc.text_vi}",
                            "name_en": f"{r.name_en}: {rc.text_en}",
                            "river": r.code,
                            "series": series,
                            "threshold_g_l": rc.threshold,
                            "km": rc.km,
                            "level": f"{rc.threshold:g}",
                        },
                    }
                )
    return {"type": "FeatureCollection", "features": features}

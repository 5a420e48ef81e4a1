"""What the environment sector wants forecast (``forecast_targets`` hook, issue #16).

Every water station: its water level by tidal harmonic analysis (leads 1 h to 2 days) and its salinity by
tide harmonics plus a regression (6 h to 7 days) that also reads the next station towards the sea (salt
arrives from the sea up the Vàm Cỏ). Every air station: PM2.5 and the hourly VN_AQI for the next 48 hours from
their diurnal and weekly profiles. The seasonal-naive baseline repeats one lunar day (24.84 h) for the
tide-driven series and one day for air quality.
"""

from __future__ import annotations

from cityops.sectors.environment.stations import STATIONS
from cityops.specs import ForecastTargetSpec, StationSpec

WATER_LEVEL_LEADS = (1, 6, 12, 24, 48)
SALINITY_LEADS = (6, 24, 48, 72, 168)
AIR_LEADS = (1, 6, 12, 24, 48)
LUNAR_DAY_H = 24.84


def _distance(station: StationSpec) -> float:
    return float(station.attributes.get("distance_to_sea_km") or 0.0)


def seaward_neighbour(station: StationSpec, stations: tuple[StationSpec, ...] = STATIONS) -> str | None:
    """The water station nearest to ``station`` among those closer to the sea (None at the mouth)."""
    closer = [s for s in stations if s.kind == "water" and _distance(s) < _distance(station)]
    return max(closer, key=_distance).code if closer else None


def targets(stations: tuple[StationSpec, ...] = STATIONS) -> list[ForecastTargetSpec]:
    out: list[ForecastTargetSpec] = []
    for station in stations:
        if station.kind == "water":
            out.append(
                ForecastTargetSpec(
                    code=f"{station.code}:water_level",
                    station=station.code,
                    property_code="water_level",
                    method="harmonic",
                    leads_hours=WATER_LEVEL_LEADS,
                    season_hours=LUNAR_DAY_H,
                    history_days=45,
                )
            )
            neighbour = seaward_neighbour(station, stations)
            out.append(
                ForecastTargetSpec(
                    code=f"{station.code}:salinity",
                    station=station.code,
                    property_code="salinity",
                    method="salinity",
                    leads_hours=SALINITY_LEADS,
                    season_hours=LUNAR_DAY_H,
                    upstream=(neighbour,) if neighbour else (),
                    history_days=60,
                )
            )
        elif station.kind == "air":
            for code in ("pm25", "aqi"):
                out.append(
                    ForecastTargetSpec(
                        code=f"{station.code}:{code}",
                        station=station.code,
                        property_code=code,
                        method="profile",
                        leads_hours=AIR_LEADS,
                        season_hours=24.0,
                        history_days=45,
                    )
                )
    return out

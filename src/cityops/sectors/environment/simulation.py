"""How the environment's demo stations are simulated: tidal rivers (water level, salinity) and urban air (PM).

Station models (:class:`~cityops.specs.StationModel`) for the engine in :mod:`cityops.sensing.simulator`; pure
functions of time and seed:

* **Tide** — semi-diurnal: the principal lunar M2 (12.42 h) and solar S2 (12.00 h) constituents, whose beat
  gives the spring–neap cycle (14.77 days). Water level = station datum offset + seasonal river stage
  (higher in the flood season, Sep–Nov) + tide.
* **Salinity** — intrusion up the Vàm Cỏ: sea salinity decays exponentially with distance from the sea,
  the intrusion length grows in the dry season (Feb–May peak, strongest around early April), and the
  flood tide pushes it up (tidal modulation, lagging the water level by ~1 h).
* **Air quality** — PM2.5 (and PM10 ≈ 1.6 × PM2.5) with morning (≈ 07:30) and evening (≈ 18:30) rush-hour
  peaks, a midday low (mixing layer), and higher values in the dry season.

Daily profiles use Vietnamese local time (UTC+7). Noise is reproducible: a function of (seed, station,
property, minute).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityops.sensing.simulator import bump, hours_since_epoch, local_hour, noise
from cityops.specs import StationSpec

M2_HOURS = 12.4206012
S2_HOURS = 12.0


def dry_season(t: datetime) -> float:
    """0 (wet season, around early October) … 1 (peak of the dry season, around early April)."""
    doy = t.timetuple().tm_yday
    return 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 95) / 365.25)


def tide(t: datetime, *, amplitude: float = 1.0, phase_h: float = 0.0) -> float:
    """Tidal height (m) around mean sea level: M2 + S2 (S2 ≈ 0.46 × M2 as at the Soài Rạp mouth)."""
    h = hours_since_epoch(t) - phase_h
    return amplitude * (math.cos(2 * math.pi * h / M2_HOURS) + 0.46 * math.cos(2 * math.pi * h / S2_HOURS))


def conductivity(salinity_g_l: float) -> float:
    """Electrical conductivity (mS/cm) from salinity, the usual practical approximation S ≈ 0.64 × EC."""
    return round(salinity_g_l / 0.64 + 0.1, 3)


def water_temperature(t: datetime) -> float:
    """Water temperature (°C): a daily swing peaking mid-afternoon, warmer in the dry season."""
    return round(29.0 + 1.5 * math.sin(2 * math.pi * (local_hour(t) - 9) / 24) + 1.5 * dry_season(t), 2)


@dataclass(frozen=True, slots=True)
class RiverStation:
    """A water station on a tidal river: its distance to the sea (along the river) and its tide."""

    distance_to_sea_km: float = 0.0
    tide_amplitude_m: float = 1.0
    tide_phase_h: float = 0.0  # lag of the tide behind the river mouth

    def water_level(self, t: datetime, key: str, seed: int = 0) -> float:
        """Water level (m, station datum): seasonal river stage + tide + a little noise."""
        flood = 1.0 - dry_season(t)  # flood season when the dry season is lowest
        stage = 0.1 + 0.45 * flood
        value = stage + tide(t, amplitude=self.tide_amplitude_m, phase_h=self.tide_phase_h)
        return round(value + noise(seed, key, "wl", t=t, sigma=0.02), 3)

    def salinity(self, t: datetime, key: str, seed: int = 0) -> float:
        """Salinity (g/L ≡ ‰): exponential decay with distance; longer intrusion in the dry season; tidal push."""
        dry = dry_season(t)
        intrusion_km = 6.0 + 26.0 * dry**1.5
        mean = 25.0 * math.exp(-self.distance_to_sea_km / intrusion_km)
        lagged = tide(t - timedelta(hours=1), amplitude=1.0, phase_h=self.tide_phase_h) / 1.46
        value = 0.1 + mean * (1.0 + 0.35 * lagged)
        value *= 1.0 + noise(seed, key, "sal", t=t, sigma=0.03)
        return round(max(value, 0.05), 3)

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        generators: dict[str, Callable[[], float]] = {
            "water_level": lambda: self.water_level(t, station.code, seed),
            "salinity": lambda: self.salinity(t, station.code, seed),
            "conductivity": lambda: conductivity(self.salinity(t, station.code, seed)),
            "water_temperature": lambda: water_temperature(t),
        }
        gen = generators.get(code)
        return gen() if gen else None


@dataclass(frozen=True, slots=True)
class AirStation:
    """An urban air-quality station: particulate matter following traffic and the mixing layer."""

    def pm25(self, t: datetime, key: str, seed: int = 0) -> float:
        """PM2.5 (µg/m³): rush-hour peaks, midday low, dry-season high."""
        h = local_hour(t)
        profile = (
            18.0
            + 22.0 * bump(h, 7.5, 1.3)
            + 28.0 * bump(h, 18.75, 1.8)
            + 10.0 * bump(h, 22.5, 2.0)  # evening cooking and a shallow night layer
            - 6.0 * bump(h, 13.0, 2.0)
        )
        value = profile * (0.65 + 0.75 * dry_season(t))
        value *= 1.0 + noise(seed, key, "pm", t=t, sigma=0.08)
        return round(max(value, 2.0), 1)

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        if code == "pm25":
            return self.pm25(t, station.code, seed)
        if code == "pm10":
            return round(self.pm25(t, station.code, seed) * 1.6 + 4.0, 1)
        return None

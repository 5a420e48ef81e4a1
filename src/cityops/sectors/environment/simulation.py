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
  peaks, a midday low (mixing layer), and higher values in the dry season; NO2 and CO follow the same traffic
  peaks, SO2 stays low (no heavy industry upwind), O3 peaks in the early afternoon sun (photochemistry), so
  all six VN_AQI inputs are measured (µg/m³, CO included).
* **Water quality** — pH with a small daily swing (photosynthesis), dissolved oxygen from saturation at the
  water temperature (70–95 %, lowest before dawn), turbidity higher on the flood tide.

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

    def dissolved_oxygen(self, t: datetime, key: str, seed: int = 0) -> float:
        """DO (mg/L): 70–95 % of saturation at the water temperature, lowest before dawn."""
        temp = water_temperature(t)
        saturation = 14.652 - 0.41022 * temp + 0.0079910 * temp**2 - 0.000077774 * temp**3
        share = 0.825 + 0.125 * math.sin(2 * math.pi * (local_hour(t) - 11) / 24)
        return round(saturation * share * (1.0 + noise(seed, key, "do", t=t, sigma=0.02)), 2)

    def ph(self, t: datetime, key: str, seed: int = 0) -> float:
        """pH: 7.1 ± 0.3 over the day (photosynthesis raises it in the afternoon)."""
        value = 7.1 + 0.3 * math.sin(2 * math.pi * (local_hour(t) - 9) / 24)
        return round(value + noise(seed, key, "ph", t=t, sigma=0.05), 2)

    def turbidity(self, t: datetime, key: str, seed: int = 0) -> float:
        """Turbidity (NTU): higher on the flood tide and in the wet season."""
        flood_tide = max(tide(t, amplitude=1.0, phase_h=self.tide_phase_h), 0.0)
        value = 25.0 + 30.0 * flood_tide + 40.0 * (1.0 - dry_season(t))
        return round(value * (1.0 + noise(seed, key, "turb", t=t, sigma=0.05)), 1)

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        generators: dict[str, Callable[[], float]] = {
            "water_level": lambda: self.water_level(t, station.code, seed),
            "salinity": lambda: self.salinity(t, station.code, seed),
            "conductivity": lambda: conductivity(self.salinity(t, station.code, seed)),
            "water_temperature": lambda: water_temperature(t),
            "dissolved_oxygen": lambda: self.dissolved_oxygen(t, station.code, seed),
            "ph": lambda: self.ph(t, station.code, seed),
            "turbidity": lambda: self.turbidity(t, station.code, seed),
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

    def traffic(self, t: datetime) -> float:
        """0 … ~1.3: the rush-hour profile the traffic gases follow."""
        h = local_hour(t)
        return 0.25 + 0.8 * bump(h, 7.5, 1.3) + 0.9 * bump(h, 18.75, 1.8) + 0.2 * bump(h, 22.5, 2.0)

    def no2(self, t: datetime, key: str, seed: int = 0) -> float:
        value = 18.0 + 55.0 * self.traffic(t) * (0.8 + 0.4 * dry_season(t))
        return round(value * (1.0 + noise(seed, key, "no2", t=t, sigma=0.08)), 1)

    def co(self, t: datetime, key: str, seed: int = 0) -> float:
        value = 700.0 + 2600.0 * self.traffic(t) * (0.8 + 0.4 * dry_season(t))
        return round(value * (1.0 + noise(seed, key, "co", t=t, sigma=0.08)), 0)

    def so2(self, t: datetime, key: str, seed: int = 0) -> float:
        value = 9.0 + 12.0 * self.traffic(t)
        return round(value * (1.0 + noise(seed, key, "so2", t=t, sigma=0.1)), 1)

    def o3(self, t: datetime, key: str, seed: int = 0) -> float:
        """O3 (µg/m³): photochemical, peaking around 14:00, higher in the sunny dry season."""
        value = 25.0 + 110.0 * bump(local_hour(t), 14.0, 2.5) * (0.6 + 0.6 * dry_season(t))
        return round(value * (1.0 + noise(seed, key, "o3", t=t, sigma=0.08)), 1)

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        if code == "pm25":
            return self.pm25(t, station.code, seed)
        if code == "pm10":
            return round(self.pm25(t, station.code, seed) * 1.6 + 4.0, 1)
        gases: dict[str, Callable[[datetime, str, int], float]] = {
            "no2": self.no2,
            "co": self.co,
            "so2": self.so2,
            "o3": self.o3,
        }
        gen = gases.get(code)
        return gen(t, station.code, seed) if gen else None

"""How the traffic counters are simulated: flows per vehicle class with rush hours, and the mean speed.

A :class:`~cityops.specs.StationModel` for the engine in :mod:`cityops.sensing.simulator`: counts per vehicle
class with rush hours (07:00 and 17:30 local time), low nights, lighter weekends, more trucks at night; a road's
``scale`` says how busy it is (QL1 carries more than QL62); the mean speed falls as the flow rises (a simple
speed–flow relation). A counter with ``incident_hour`` has a crash blocking lanes every day from that local hour for
``incident_minutes``: the speed collapses to about 10 km/h and half the flow gets through, so the segment turns
F and the persistent-congestion rule opens an alert (the demo's incident). Pure functions of time and seed; noise is reproducible per (seed, station, class, minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cityops.sensing.simulator import bump, local_hour, local_weekday, noise
from cityops.specs import StationSpec

#: Vehicles per hour of each class at the evening peak of a road of scale 1.
PEAK_FLOW: dict[str, float] = {"traffic_motorbike": 4200.0, "traffic_car": 900.0, "traffic_heavy": 520.0}


def load(t: datetime) -> float:
    """The share of the peak flow on the road at ``t`` (about 0.1 at night, 1 at the weekday rush hours)."""
    h = local_hour(t)
    weekend = local_weekday(t) >= 5
    base = 0.12 + 0.55 * bump(h, 12.5, 5.0)  # daytime plateau
    rush = 0.9 * bump(h, 7.0, 1.0) + 1.0 * bump(h, 17.5, 1.2)
    return (base + rush * (0.6 if weekend else 1.0)) * (0.75 if weekend else 1.0) / 1.6


@dataclass(frozen=True, slots=True)
class RoadCounter:
    """A traffic counter on a road; ``scale`` is the road's traffic relative to QL1 at Tân An."""

    scale: float = 1.0
    incident_hour: float | None = None  # local hour a daily demo incident starts (None: no incident)
    incident_minutes: float = 60.0

    def in_incident(self, t: datetime) -> bool:
        """Whether the demo incident blocks the road at ``t``."""
        if self.incident_hour is None:
            return False
        h = local_hour(t)
        return self.incident_hour <= h < self.incident_hour + self.incident_minutes / 60.0

    def count(self, t: datetime, key: str, vehicle_class: str, seed: int = 0) -> float:
        """Vehicles per hour of one class (``traffic_motorbike``, ``traffic_car``, ``traffic_heavy``)."""
        heavy_night = 1.8 if vehicle_class == "traffic_heavy" and not 5 <= local_hour(t) < 22 else 1.0
        value = PEAK_FLOW[vehicle_class] * self.scale * load(t) * heavy_night
        value *= 1.0 + noise(seed, key, vehicle_class, t=t, sigma=0.06)
        if self.in_incident(t):
            value *= 0.5
        return float(max(round(value), 0))

    def mean_speed(self, t: datetime, key: str, seed: int = 0) -> float:
        """Mean speed (km/h) falling with the load (about 10 km/h during the incident)."""
        if self.in_incident(t):
            return round(max(10.0 + noise(seed, key, "speed", t=t, sigma=1.5), 3.0), 1)
        value = 62.0 - 30.0 * min(load(t), 1.2) + noise(seed, key, "speed", t=t, sigma=2.0)
        return round(max(value, 5.0), 1)

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        if code in PEAK_FLOW:
            return self.count(t, station.code, code, seed)
        if code == "mean_speed":
            return self.mean_speed(t, station.code, seed)
        return None

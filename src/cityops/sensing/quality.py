"""Data-quality checks over an observation series, and station health.

Pure functions: no database, no clock. Each check returns one :class:`QualityFlag` per point, in the
order given; :func:`assess` ORs them together. The flags are stored as an integer bitmask in the
Observation's quality column (0 = no check failed).

Bits (stable: stored in the database, never renumber):

==========  =====  ============================================================================
flag        value  meaning
==========  =====  ============================================================================
RANGE       1      value outside the physically valid range of the property (or the datastream's
                   own limits)
SPIKE       2      value differs from both neighbours by more than the spike threshold, in the same
                   direction (a one-point excursion)
STUCK       4      part of a run of at least N identical consecutive values
GAP         8      time since the previous point exceeds k × the expected reporting interval
LATE        16     arrived (result time) long after its phenomenon time (set by ingest, not here)
MANUAL      32     marked suspect by an operator
==========  =====  ============================================================================
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntFlag, StrEnum

Point = tuple[datetime, float]


class QualityFlag(IntFlag):
    OK = 0
    RANGE = 1
    SPIKE = 2
    STUCK = 4
    GAP = 8
    LATE = 16
    MANUAL = 32


# Flags that make a value unfit for latest values, KPIs and alerts (#22): a RANGE-flagged 999 g/L is kept
# and shown with its flag, but never becomes "the latest salinity". A GAP before a point or a LATE arrival
# does not make the value itself wrong.
UNFIT = int(QualityFlag.RANGE | QualityFlag.SPIKE | QualityFlag.STUCK | QualityFlag.MANUAL)


def describe(flags: int) -> list[str]:
    """Names of the bits set in a stored bitmask (``5`` → ``["RANGE", "STUCK"]``)."""
    return [f.name for f in QualityFlag if f.value and flags & f.value and f.name is not None]


def range_check(values: Sequence[float], low: float | None, high: float | None) -> list[QualityFlag]:
    """RANGE for values below ``low``, above ``high`` (bounds inclusive-valid), or not finite."""
    out = []
    for v in values:
        bad = not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high)
        out.append(QualityFlag.RANGE if bad else QualityFlag.OK)
    return out


def spike_check(values: Sequence[float], threshold: float) -> list[QualityFlag]:
    """SPIKE where a value jumps more than ``threshold`` away from both neighbours in the same direction.

    The first and last points have only one neighbour and are never flagged (a step is not a spike).
    """
    if threshold <= 0:
        raise ValueError("spike threshold must be positive")
    out = [QualityFlag.OK] * len(values)
    for i in range(1, len(values) - 1):
        up = values[i] - values[i - 1]
        down = values[i] - values[i + 1]
        if abs(up) > threshold and abs(down) > threshold and (up > 0) == (down > 0):
            out[i] = QualityFlag.SPIKE
    return out


def stuck_check(values: Sequence[float], run_length: int, tolerance: float = 0.0) -> list[QualityFlag]:
    """STUCK on every point of a run of at least ``run_length`` equal consecutive values (within ``tolerance``)."""
    if run_length < 2:
        raise ValueError("a stuck run needs at least 2 values")
    out = [QualityFlag.OK] * len(values)
    start = 0
    for i in range(1, len(values) + 1):
        if i < len(values) and abs(values[i] - values[start]) <= tolerance:
            continue
        if i - start >= run_length:
            for j in range(start, i):
                out[j] = QualityFlag.STUCK
        start = i
    return out


def gap_check(
    times: Sequence[datetime], expected_interval: timedelta, factor: float = 3.0
) -> list[QualityFlag]:
    """GAP on a point whose distance to the previous point exceeds ``factor × expected_interval``."""
    if expected_interval <= timedelta(0):
        raise ValueError("expected interval must be positive")
    limit = expected_interval * factor
    out = [QualityFlag.OK] * len(times)
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > limit:
            out[i] = QualityFlag.GAP
    return out


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """What to check for one datastream; ``None`` disables a check."""

    low: float | None = None
    high: float | None = None
    spike_threshold: float | None = None
    stuck_run: int | None = None
    stuck_tolerance: float = 0.0
    expected_interval: timedelta | None = None
    gap_factor: float = 3.0


def assess(points: Sequence[Point], config: QualityConfig) -> list[QualityFlag]:
    """All configured checks over points sorted by time (sorted here if they are not); flags in input order."""
    order = sorted(range(len(points)), key=lambda i: points[i][0])
    times = [points[i][0] for i in order]
    values = [points[i][1] for i in order]
    flags = [QualityFlag.OK] * len(points)
    checks: list[list[QualityFlag]] = []
    if config.low is not None or config.high is not None:
        checks.append(range_check(values, config.low, config.high))
    if config.spike_threshold is not None:
        checks.append(spike_check(values, config.spike_threshold))
    if config.stuck_run is not None:
        checks.append(stuck_check(values, config.stuck_run, config.stuck_tolerance))
    if config.expected_interval is not None:
        checks.append(gap_check(times, config.expected_interval, config.gap_factor))
    for check in checks:
        for pos, idx in enumerate(order):
            flags[idx] |= check[pos]
    return flags


class StationHealth(StrEnum):
    ONLINE = "online"
    LATE = "late"
    OFFLINE = "offline"


def station_health(
    last_seen: datetime | None,
    expected_interval: timedelta,
    now: datetime,
    *,
    late_after: float = 2.0,
    offline_after: float = 6.0,
) -> StationHealth:
    """online while the last report is at most ``late_after`` intervals old, late up to ``offline_after``
    intervals, offline beyond (or when the station never reported)."""
    if expected_interval <= timedelta(0):
        raise ValueError("expected interval must be positive")
    if not 0 < late_after <= offline_after:
        raise ValueError("need 0 < late_after <= offline_after")
    if last_seen is None:
        return StationHealth.OFFLINE
    age = now - last_seen
    if age <= expected_interval * late_after:
        return StationHealth.ONLINE
    if age <= expected_interval * offline_after:
        return StationHealth.LATE
    return StationHealth.OFFLINE


# Spike thresholds (change from both neighbours) and stuck-run lengths that suit each property at a
# 5-minute reporting interval; a datastream's ``properties["quality"]`` overrides them.
DEFAULT_CHECKS: dict[str, dict[str, float]] = {
    "salinity": {"spike_threshold": 5.0, "stuck_run": 24},
    "conductivity": {"spike_threshold": 8.0, "stuck_run": 24},
    "water_level": {"spike_threshold": 0.5, "stuck_run": 24},
    "water_temperature": {"spike_threshold": 3.0, "stuck_run": 48},
    "pm25": {"spike_threshold": 150.0, "stuck_run": 24},
    "pm10": {"spike_threshold": 250.0, "stuck_run": 24},
    "ph": {"spike_threshold": 1.5, "stuck_run": 48},
    "dissolved_oxygen": {"spike_threshold": 4.0, "stuck_run": 48},
}


def config_for(
    code: str | None,
    datastream_properties: dict[str, object] | None = None,
    expected_interval: timedelta | None = None,
) -> QualityConfig:
    """The checks of a datastream: the property's valid range and defaults, then the datastream's own
    ``properties["quality"]`` (keys ``low``, ``high``, ``spike_threshold``, ``stuck_run``, ``gap_factor``,
    ``expected_interval_s``)."""
    from cityops.sensing.properties import get

    spec = get(code) if code else None
    values: dict[str, object] = {}
    if spec is not None:
        values.update(low=spec.valid_min, high=spec.valid_max)
    values.update(DEFAULT_CHECKS.get(code or "", {}))
    own = (datastream_properties or {}).get("quality")
    if isinstance(own, dict):
        values.update({k: v for k, v in own.items() if k in _CONFIG_KEYS})
    interval = expected_interval
    seconds = values.pop("expected_interval_s", None) or (datastream_properties or {}).get(
        "expected_interval_s"
    )
    if interval is None and isinstance(seconds, int | float) and seconds > 0:
        interval = timedelta(seconds=float(seconds))

    def num(key: str) -> float | None:
        v = values.get(key)
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None

    run = num("stuck_run")
    return QualityConfig(
        low=num("low"),
        high=num("high"),
        spike_threshold=num("spike_threshold"),
        stuck_run=int(run) if run is not None and run >= 2 else None,
        expected_interval=interval,
        gap_factor=num("gap_factor") or 3.0,
    )


_CONFIG_KEYS = {"low", "high", "spike_threshold", "stuck_run", "gap_factor", "expected_interval_s"}


def flags_for_new(history: Sequence[Point], new: Sequence[Point], config: QualityConfig) -> list[QualityFlag]:
    """Flags of ``new`` points judged together with the stored ``history`` before them (a few recent
    points: at least ``stuck_run`` of them for the stuck check). The newest point has no following
    neighbour yet, so it cannot be a spike until the next point arrives."""
    flags = assess([*history, *new], config)
    return flags[len(history) :]

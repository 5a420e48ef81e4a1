"""Every declared forecast target: the sectors' (``forecast_targets`` hook) and the capability's own."""

from __future__ import annotations

from cityops.plugins import declarations
from cityops.specs import ForecastTargetSpec


def declared_targets() -> list[ForecastTargetSpec]:
    return [spec for _, spec in declarations("forecast_targets", ForecastTargetSpec)]

"""Every forecast target: the sectors' (``forecast_targets`` hook) and the capability's own report volumes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.plugins import declarations
from cityops.specs import ForecastTargetSpec


def declared_targets() -> list[ForecastTargetSpec]:
    return [spec for _, spec in declarations("forecast_targets", ForecastTargetSpec)]


def all_targets(session: Session) -> list[ForecastTargetSpec]:
    """The declared targets, then one per followed (ward, category) report-volume series."""
    from cityops.forecasting.report_volume import volume_targets

    return declared_targets() + volume_targets(session)

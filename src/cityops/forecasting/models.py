"""The stored backtest of each forecast Datastream (one row per published lead time, replaced on each backtest).

The forecasts themselves are SensorThings Observations of forecast Datastreams (``properties.forecast``), so
STA, the native API, NGSI-LD and open data serve them with no extra code.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.db import Base, UTCDateTime


class ForecastScore(Base):
    """A rolling-origin backtest at one lead: the model's and both baselines' MAE and RMSE, the MSE skill
    score of the model against each baseline, and what is published at that lead (the model only when it
    beats persistence, otherwise the better baseline)."""

    __tablename__ = "forecast_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    forecast_datastream_id: Mapped[int] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"), unique=True
    )
    source_datastream_id: Mapped[int] = mapped_column(
        ForeignKey("sta_datastreams.id", ondelete="CASCADE"), index=True
    )
    target_code: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(32))
    lead_hours: Mapped[int] = mapped_column(Integer)
    forecasts: Mapped[int] = mapped_column(Integer)  # scored forecasts at this lead
    origins: Mapped[int] = mapped_column(Integer)
    mae_model: Mapped[float | None] = mapped_column(Float)
    rmse_model: Mapped[float | None] = mapped_column(Float)
    mae_persistence: Mapped[float | None] = mapped_column(Float)
    rmse_persistence: Mapped[float | None] = mapped_column(Float)
    mae_seasonal: Mapped[float | None] = mapped_column(Float)
    rmse_seasonal: Mapped[float | None] = mapped_column(Float)
    skill_persistence: Mapped[float | None] = mapped_column(Float)
    skill_seasonal: Mapped[float | None] = mapped_column(Float)
    season_hours: Mapped[float] = mapped_column(Float)
    published: Mapped[str] = mapped_column(String(32))  # the model's name, "persistence" or "seasonal_naive"
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False)  # scored on simulated (demo) data
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""``/api/v1/forecasts/{datastream_id}``: the latest forecast of an observed Datastream, the forecast issued at
a given time, and the stored backtest against persistence and seasonal naive. Read by anyone, as sensing's
reads are; the forecasts themselves are also plain SensorThings Observations of the forecast Datastreams.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.clock import ensure_utc
from cityops.deps import ReadSessionDep
from cityops.errors import NotFound
from cityops.forecasting.datastreams import forecast_info, forecast_streams_of
from cityops.forecasting.models import ForecastScore
from cityops.sensing.models import Datastream, Observation

router = APIRouter(prefix="/api/v1/forecasts", tags=["forecasts"])

SYNTHETIC_VI = (
    "Số liệu mô phỏng (synthetic): kỹ năng dự báo tính trên chuỗi của bộ mô phỏng, không phải số đo thật."
)
SYNTHETIC_EN = "Synthetic: skill computed on the simulator's series, not on real measurements."


class Errors(BaseModel):
    model: float | None
    persistence: float | None
    seasonal_naive: float | None


class LeadOut(BaseModel):
    lead_hours: int
    forecast_datastream_id: int
    model: str
    published: str
    baseline: bool
    forecasts: int
    origins: int
    mae: Errors
    rmse: Errors
    skill_vs_persistence: float | None
    skill_vs_seasonal_naive: float | None


class BacktestOut(BaseModel):
    datastream_id: int
    name: str
    season_hours: float | None
    synthetic: bool
    note_vi: str
    note_en: str
    window_start: datetime | None
    window_end: datetime | None
    computed_at: datetime | None
    leads: list[LeadOut]


class PointOut(BaseModel):
    lead_hours: int
    forecast_datastream_id: int
    time: datetime
    value: float | None
    model: str
    baseline: bool


class ForecastOut(BaseModel):
    datastream_id: int
    name: str
    issued_at: datetime
    synthetic: bool
    points: list[PointOut]


def _source(session: Session, datastream_id: int) -> Datastream:
    """The observed Datastream (a forecast Datastream's id answers for what it forecasts)."""
    ds = session.get(Datastream, datastream_id)
    if ds is None:
        raise NotFound(f"Datastream {datastream_id} does not exist")
    info = forecast_info(ds)
    if info is not None:
        of = session.get(Datastream, int(info.get("of", 0)))
        if of is None:
            raise NotFound(f"Datastream {datastream_id} forecasts a Datastream that no longer exists")
        return of
    return ds


def _forecast_streams(session: Session, source: Datastream) -> dict[int, Datastream]:
    out = {ds.id: ds for ds in forecast_streams_of(session, source)}
    if not out:
        raise NotFound(f"Datastream {source.id} has no forecasts")
    return out


@router.get("/{datastream_id}/backtest", response_model=BacktestOut)
def backtest(datastream_id: int, session: ReadSessionDep) -> BacktestOut:
    """MAE, RMSE and skill of the model and both baselines at each lead (rolling origin)."""
    source = _source(session, datastream_id)
    streams = _forecast_streams(session, source)
    scores = session.scalars(
        select(ForecastScore)
        .where(ForecastScore.source_datastream_id == source.id)
        .order_by(ForecastScore.lead_hours, ForecastScore.id)
    ).all()
    scores = [s for s in scores if s.forecast_datastream_id in streams]
    if not scores:
        raise NotFound(f"Datastream {source.id} has no stored backtest yet")
    synthetic = any(s.synthetic for s in scores)
    return BacktestOut(
        datastream_id=source.id,
        name=source.name,
        season_hours=scores[0].season_hours,
        synthetic=synthetic,
        note_vi=SYNTHETIC_VI if synthetic else "",
        note_en=SYNTHETIC_EN if synthetic else "",
        window_start=scores[0].window_start,
        window_end=scores[0].window_end,
        computed_at=max(s.computed_at for s in scores),
        leads=[
            LeadOut(
                lead_hours=s.lead_hours,
                forecast_datastream_id=s.forecast_datastream_id,
                model=s.model,
                published=s.published,
                baseline=s.published != s.model,
                forecasts=s.forecasts,
                origins=s.origins,
                mae=Errors(model=s.mae_model, persistence=s.mae_persistence, seasonal_naive=s.mae_seasonal),
                rmse=Errors(
                    model=s.rmse_model, persistence=s.rmse_persistence, seasonal_naive=s.rmse_seasonal
                ),
                skill_vs_persistence=s.skill_persistence,
                skill_vs_seasonal_naive=s.skill_seasonal,
            )
            for s in scores
        ],
    )


def _run(session: Session, source: Datastream, issued: datetime | None) -> ForecastOut:
    streams = _forecast_streams(session, source)
    ids = sorted(streams)
    if issued is None:
        issued = session.scalar(
            select(func.max(Observation.result_time)).where(Observation.datastream_id.in_(ids))
        )
        if issued is None:
            raise NotFound(f"Datastream {source.id} has no forecast yet")
    rows = session.execute(
        select(
            Observation.datastream_id,
            Observation.phenomenon_time,
            Observation.result_number,
            Observation.parameters,
        )
        .where(Observation.datastream_id.in_(ids), Observation.result_time == issued)
        .order_by(Observation.phenomenon_time, Observation.datastream_id)
    ).all()
    if not rows:
        raise NotFound(f"No forecast of Datastream {source.id} was issued at {issued.isoformat()}")
    points = []
    synthetic = False
    for ds_id, at, value, params in rows:
        info = forecast_info(streams[ds_id]) or {}
        params = params or {}
        synthetic = synthetic or bool(params.get("synthetic"))
        points.append(
            PointOut(
                lead_hours=int(info.get("horizon_hours", 0)),
                forecast_datastream_id=ds_id,
                time=at,
                value=value,
                model=str(params.get("model", info.get("model", ""))),
                baseline=bool(params.get("baseline", info.get("baseline", False))),
            )
        )
    return ForecastOut(
        datastream_id=source.id, name=source.name, issued_at=issued, synthetic=synthetic, points=points
    )


@router.get("/{datastream_id}/latest", response_model=ForecastOut)
def latest(datastream_id: int, session: ReadSessionDep) -> ForecastOut:
    """The latest issued forecast of the Datastream: one point per lead time."""
    return _run(session, _source(session, datastream_id), None)


@router.get("/{datastream_id}", response_model=ForecastOut)
def issued_at(
    datastream_id: int,
    session: ReadSessionDep,
    issued_at: Annotated[
        datetime, Query(description="The issue time (resultTime) of the forecast, ISO 8601")
    ],
) -> ForecastOut:
    """The forecast issued at ``issued_at`` (every run is kept; a time without zone is Vietnam's)."""
    return _run(session, _source(session, datastream_id), ensure_utc(issued_at))

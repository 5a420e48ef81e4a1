"""Fit, backtest and publish the declared forecast targets (called by the background task and the CLI).

:func:`backtest_target` scores the target's model against persistence and seasonal naive by rolling origin
and stores one :class:`~cityops.forecasting.models.ForecastScore` per lead; :func:`run_target` fits the model
on the history and writes one Observation per lead — ``phenomenonTime`` the target time, ``resultTime`` the
issue time — publishing at each lead the model only where its stored backtest beats persistence, otherwise
the better baseline, labelled as such in the forecast Datastream's ``properties.forecast``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from cityops.clock import utcnow
from cityops.forecasting import datastreams as fds
from cityops.forecasting.backtest import PERSISTENCE, SEASONAL, Backtest, rolling_origin
from cityops.forecasting.methods import (
    Array,
    Forecaster,
    Harmonic,
    Profile,
    SalinityRegression,
    Weekly,
    persistence,
    seasonal_naive,
)
from cityops.forecasting.models import ForecastScore
from cityops.forecasting.series import hourly_series, time_of, trim
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Observation, Thing
from cityops.sensing.stations import datastream_index
from cityops.specs import ForecastTargetSpec


class TargetMissing(LookupError):
    """The observed Datastream a target names does not exist (its station is not loaded)."""


@dataclass(slots=True)
class Prepared:
    spec: ForecastTargetSpec
    source: Datastream
    times: Array
    values: Array
    step_h: float
    make: Callable[[], Forecaster]
    synthetic: bool


@dataclass(slots=True)
class RunResult:
    target: str
    source_id: int
    issued_at: datetime | None
    written: int
    published: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def _is_synthetic(session: Session, source: Datastream) -> bool:
    """Simulated (demo) data: a station whose coordinates and levels are demo values, or a series the
    forecasting capability computed from demo cases."""
    thing = session.get(Thing, source.thing_id)
    props = (thing.properties if thing else None) or {}
    return bool(props.get("approximate") or props.get("synthetic") or props.get("demo"))


def daily_series(session: Session, datastream_id: int, start: datetime, end: datetime) -> tuple[Array, Array]:
    """Daily values (one observation a day, at the local day's start) on a 24-hour grid."""
    from cityops.forecasting.series import hours_of

    rows = session.execute(
        select(Observation.phenomenon_time, Observation.result_number)
        .where(
            Observation.datastream_id == datastream_id,
            Observation.phenomenon_time >= start,
            Observation.phenomenon_time < end,
        )
        .order_by(Observation.phenomenon_time)
    ).all()
    if not rows:
        empty: Array = np.zeros(0)
        return empty, empty
    first = hours_of(rows[0][0])
    n = round((hours_of(rows[-1][0]) - first) / 24.0) + 1
    times: Array = first + 24.0 * np.arange(n, dtype=float)
    values: Array = np.full(n, np.nan)
    for moment, number in rows:
        i = round((hours_of(moment) - first) / 24.0)
        if 0 <= i < n and number is not None:
            values[i] = float(number)
    return times, values


def prepare(
    session: Session,
    spec: ForecastTargetSpec,
    *,
    now: datetime,
    index: dict[tuple[str, str], Datastream] | None = None,
    is_working_day: Callable[[date], bool] | None = None,
) -> Prepared:
    """The target's observed Datastream, its history up to the last reading, and its model's factory."""
    index = index if index is not None else datastream_index(session)
    source = index.get((spec.station, spec.property_code))
    if source is None and spec.method == "weekly":
        from cityops.forecasting.report_volume import find_source

        source = find_source(session, spec.station)
    if source is None:
        raise TargetMissing(f"no Datastream for station {spec.station!r}, property {spec.property_code!r}")
    start = now - timedelta(days=spec.history_days)
    if spec.method == "weekly":
        times, values = daily_series(session, source.id, start, now)
        step = 24.0
    else:
        times, values = trim(*hourly_series(session, source.id, start, now))
        step = 1.0
    make: Callable[[], Forecaster]
    if spec.method == "harmonic":
        make = Harmonic
    elif spec.method == "profile":
        make = Profile
    elif spec.method == "weekly":
        if is_working_day is None:
            from cityops.workcalendar.calendar import WorkingCalendar

            is_working_day = WorkingCalendar().is_working_day
        working = is_working_day

        def make() -> Forecaster:
            return Weekly(working)
    else:
        upstream = []
        for code in spec.upstream:
            other = index.get((code, spec.property_code))
            if other is not None and len(times):
                _, up = hourly_series(session, other.id, time_of(times[0]), time_of(times[-1] + 1))
                upstream.append(up)
        leads = spec.leads_hours

        def make() -> Forecaster:
            return SalinityRegression(leads, upstream, times)

    return Prepared(spec, source, times, values, step, make, _is_synthetic(session, source))


def _steps(spec: ForecastTargetSpec, step_h: float) -> list[int]:
    return [max(1, round(lead / step_h)) for lead in spec.leads_hours]


def _num(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def backtest_target(session: Session, prepared: Prepared, *, now: datetime | None = None) -> Backtest:
    """Rolling-origin backtest of the target's model and both baselines; stores one score per lead."""
    spec, step = prepared.spec, prepared.step_h
    hourly = step == 1.0
    bt = rolling_origin(
        prepared.make,
        prepared.times,
        prepared.values,
        _steps(spec, step),
        season_h=spec.season_hours,
        step_h=step,
        test_steps=14 * 24 if hourly else 42,
        stride=(12 if spec.method == "harmonic" else 6) if hourly else 1,
        refit_steps=7 * 24 if hourly else 7,
        min_train=14 * 24 if hourly else 28,
    )
    streams = fds.ensure_forecast_datastreams(session, prepared.source, spec.code, spec.leads_hours)
    existing = {
        s.forecast_datastream_id: s
        for s in session.scalars(
            select(ForecastScore).where(ForecastScore.source_datastream_id == prepared.source.id)
        ).all()
    }
    moment = now or utcnow()
    for lead_h, score in zip(spec.leads_hours, bt.leads, strict=True):
        ds = streams[lead_h]
        row = existing.get(ds.id) or ForecastScore(forecast_datastream_id=ds.id)
        row.source_datastream_id = prepared.source.id
        row.target_code = spec.code
        row.model = bt.model
        row.lead_hours = lead_h
        row.forecasts = score.n
        row.origins = bt.origins
        row.mae_model, row.rmse_model = _num(score.mae[bt.model]), _num(score.rmse[bt.model])
        row.mae_persistence, row.rmse_persistence = (
            _num(score.mae[PERSISTENCE]),
            _num(score.rmse[PERSISTENCE]),
        )
        row.mae_seasonal, row.rmse_seasonal = _num(score.mae[SEASONAL]), _num(score.rmse[SEASONAL])
        row.skill_persistence = _num(score.skill(PERSISTENCE, bt.model))
        row.skill_seasonal = _num(score.skill(SEASONAL, bt.model))
        row.season_hours = spec.season_hours
        row.published = score.published(bt.model)
        row.synthetic = prepared.synthetic
        row.window_start = time_of(prepared.times[0])
        row.window_end = time_of(prepared.times[-1])
        row.computed_at = moment
        session.add(row)
        info = dict(fds.forecast_info(ds) or {})
        info.update(fds.label(bt.model, row.published))
        ds.properties = {**(ds.properties or {}), "forecast": info}
        flag_modified(ds, "properties")
    session.flush()
    return bt


def run_target(session: Session, prepared: Prepared, *, issued_at: datetime | None = None) -> RunResult:
    """Fit the model on the whole history and write one forecast per lead (see the module docstring)."""
    started = time.perf_counter()
    spec, step = prepared.spec, prepared.step_h
    issued = (issued_at or utcnow()).replace(microsecond=0)
    result = RunResult(spec.code, prepared.source.id, None, 0)
    if int(np.isfinite(prepared.values).sum()) < 7 * 24 / step or not np.isfinite(prepared.values[-1]):
        return result  # under a week of readings: nothing to fit
    streams = fds.ensure_forecast_datastreams(session, prepared.source, spec.code, spec.leads_hours)
    scores = {
        s.forecast_datastream_id: s.published
        for s in session.scalars(
            select(ForecastScore).where(ForecastScore.source_datastream_id == prepared.source.id)
        ).all()
    }
    steps = _steps(spec, step)
    origin = prepared.times[-1]
    first = streams[spec.leads_hours[0]]
    if first.last_phenomenon_time == time_of(origin + steps[0] * step):
        result.published = {lead: scores.get(streams[lead].id, PERSISTENCE) for lead in spec.leads_hours}
        return result  # no reading since the last run: its forecasts stand (no refit, nothing written)
    model = prepared.make()
    model.fit(prepared.times, prepared.values)
    forecasts = {
        model.name: model.predict(prepared.times, prepared.values, steps),
        PERSISTENCE: persistence(prepared.times, prepared.values, steps),
        SEASONAL: seasonal_naive(spec.season_hours, step)(prepared.times, prepared.values, steps),
    }
    rows: list[ObservationIn] = []
    for k, (lead_h, lead_steps) in enumerate(zip(spec.leads_hours, steps, strict=True)):
        ds = streams[lead_h]
        published = scores.get(ds.id, PERSISTENCE)  # never backtested: the baseline, labelled as such
        value = float(forecasts.get(published, forecasts[PERSISTENCE])[k])
        result.published[lead_h] = published
        if not np.isfinite(value):
            continue
        rows.append(
            ObservationIn(
                datastream_id=ds.id,
                phenomenon_time=time_of(origin + lead_steps * step),
                result=round(value, 4),
                result_time=issued,
                parameters={
                    "model": published,
                    "baseline": published != model.name,
                    "issued": issued.isoformat().replace("+00:00", "Z"),
                    "synthetic": prepared.synthetic,
                },
            )
        )
    written = ingest_observations(session, rows)
    result.written = written.inserted
    result.issued_at = issued
    result.seconds = time.perf_counter() - started
    return result


def run_all(
    session: Session,
    specs: Sequence[ForecastTargetSpec],
    *,
    backtest: bool = False,
    now: datetime | None = None,
) -> list[RunResult]:
    """Backtest (when asked) and run every target whose observed Datastream exists; the caller commits."""
    moment = now or utcnow()
    index = datastream_index(session)
    out = []
    for spec in specs:
        try:
            prepared = prepare(session, spec, now=moment, index=index)
        except TargetMissing:
            continue
        started = time.perf_counter()
        if backtest:
            # too short a history to score: the baseline stays published
            with contextlib.suppress(ValueError):
                backtest_target(session, prepared, now=moment)
        result = run_target(session, prepared, issued_at=moment)
        result.seconds = time.perf_counter() - started
        out.append(result)
    return out

"""Data-quality flags of a batch's numeric results (:mod:`cityops.sensing.quality`: range, spike, stuck,
gap), judged against a few stored observations before and after them (a late row has both neighbours),
fetched once per datastream per batch; a stored point that the new ones reveal as a spike or part of a stuck
run is re-flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import literal, select, update
from sqlalchemy.orm import Session

from cityops.db import UTCDateTime
from cityops.sensing import quality
from cityops.sensing.ingest.batch import Batch, text_time
from cityops.sensing.models import (
    Datastream,
    Observation,
    ObservedProperty,
    Thing,
)

QUALITY_LOOKBACK_MAX = 64  # stored points read per datastream and batch, at most


_RETRO_FLAGS = quality.QualityFlag.SPIKE | quality.QualityFlag.STUCK


def quality_config(session: Session, ds_ids: Sequence[int]) -> dict[int, quality.QualityConfig]:
    """The quality checks of each datastream: its property's range and defaults, its own
    ``properties["quality"]``, and the expected reporting interval (``expected_interval_s`` of the
    datastream, else of its Thing; no GAP check without one). One query for all datastreams."""
    rows = session.execute(
        select(Datastream.id, Datastream.properties, ObservedProperty.properties, Thing.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .join(Thing, Thing.id == Datastream.thing_id)
        .where(Datastream.id.in_(ds_ids))
    ).all()
    out: dict[int, quality.QualityConfig] = {}
    for ds_id, ds_props, op_props, thing_props in rows:
        code = (op_props or {}).get("code")
        seconds = (thing_props or {}).get("expected_interval_s")
        interval = (
            timedelta(seconds=float(seconds))
            if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0
            else None
        )
        own = ds_props or {}
        if own.get("expected_interval_s") or (
            isinstance(own.get("quality"), dict) and own["quality"].get("expected_interval_s")
        ):
            interval = None  # the datastream's own interval wins (config_for reads it)
        out[ds_id] = quality.config_for(code if isinstance(code, str) else None, own, interval)
    return out


def _lookback(config: quality.QualityConfig) -> int:
    """How many stored points the checks need: neighbours for spikes, a whole run for stuck values."""
    if config.stuck_run is not None:
        return min(max(config.stuck_run, 2), QUALITY_LOOKBACK_MAX)
    if config.spike_threshold is not None or config.expected_interval is not None:
        return 2
    return 0


def _has_checks(config: quality.QualityConfig) -> bool:
    return any(
        v is not None
        for v in (config.low, config.high, config.spike_threshold, config.stuck_run, config.expected_interval)
    )


def set_quality_flags(session: Session, batch: Batch) -> None:
    """OR the quality flags of numeric rows into ``batch.flags`` (before insert)."""
    by_ds: dict[int, list[int]] = {}
    if batch.other is None and len(set(batch.ds)) == 1:
        by_ds[batch.ds[0]] = list(range(len(batch.ds)))
    else:
        for i, (d, v) in enumerate(zip(batch.ds, batch.number, strict=True)):
            if v is not None:
                by_ds.setdefault(d, []).append(i)
    if not by_ds:
        return
    configs = quality_config(session, sorted(by_ds))
    obs = Observation.__table__.c
    text, number = batch.text, batch.number
    for ds_id, items in by_ds.items():
        config = configs.get(ds_id)
        if config is None or not _has_checks(config):
            continue
        items.sort(key=text.__getitem__)
        need = _lookback(config)
        history: list[tuple[int, datetime, float, int]] = []
        if need:
            first = literal(text_time(text[items[0]]), UTCDateTime())
            stored = session.execute(
                select(obs.id, obs.phenomenon_time, obs.result_number, obs.quality_flags)
                .where(
                    obs.datastream_id == ds_id,
                    obs.phenomenon_time < first,
                    obs.result_number.is_not(None),
                )
                .order_by(obs.phenomenon_time.desc())
                .limit(need)
            ).all()
            history = [(r[0], r[1], float(r[2]), int(r[3] or 0)) for r in reversed(stored)]
            # A late row has stored neighbours after it too (#22: a late 9.5 g/L between two 3 g/L got no
            # SPIKE): the first stored points after the batch's first time, except those it re-sends.
            mine = {text_time(text[i]) for i in items}
            after = session.execute(
                select(obs.id, obs.phenomenon_time, obs.result_number, obs.quality_flags)
                .where(
                    obs.datastream_id == ds_id,
                    obs.phenomenon_time > first,
                    obs.result_number.is_not(None),
                )
                .order_by(obs.phenomenon_time)
                .limit(need)
            ).all()
            history += [(r[0], r[1], float(r[2]), int(r[3] or 0)) for r in after if r[1] not in mine]
        points = [(h[1], h[2]) for h in history]
        points += [(text_time(text[i]), float(number[i] or 0.0)) for i in items]
        flags = quality.assess(points, config)
        for h, flag in zip(history, flags, strict=False):
            gained = int(flag & _RETRO_FLAGS) & ~h[3]
            if gained:
                session.execute(
                    update(Observation)
                    .where(Observation.id == h[0], Observation.datastream_id == ds_id)
                    .values(quality_flags=Observation.quality_flags.op("|")(gained))
                )
        for i, flag in zip(items, flags[len(history) :], strict=True):
            batch.flags[i] |= int(flag)

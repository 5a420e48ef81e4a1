"""Keeping indicator values current: compute cells, store them with provenance, and follow events.

An event marks only the cells whose facts it touched stale and recomputes just those (a calculator call
per (indicator, period), over the few areas touched), so the cost of an event does not grow with history.
Reads never compute. An indicator declared ``by_agency`` also keeps one cell per agency beside each
all-agencies cell, recomputed with it (staleness is kept on the all-agencies cell). :func:`recompute` rebuilds a range (``cityops indicators recompute``); a background
task (:func:`refresh_stale`) finishes any cell left stale by a failed recompute.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.events.bus import Event, subject_matches
from cityops.indicators import periods
from cityops.indicators.geography import AreaMap
from cityops.indicators.models import Indicator, IndicatorValue
from cityops.indicators.registry import Registry, load
from cityops.specs import IndicatorSource, IndicatorSpec, Measure

log = logging.getLogger("cityops.indicators")

Cell = tuple[str, int, date]  # (indicator code, area id, period start)
STALE_BATCH = 2000  # cells a refresh run takes at most


def compute(
    session: Session, reg: Registry, amap: AreaMap, spec: IndicatorSpec, start: date, targets: list[int]
) -> int:
    """Compute one period of ``spec`` for ``targets`` and store it; returns the cells written."""
    calc = reg.calculator(spec)
    if calc is None or not targets:
        return 0
    t0, t1 = periods.bounds(start, spec.period)
    groups = amap.groups(targets)
    written = store(session, spec, start, targets, calc.compute(session, spec, groups, t0, t1))
    if spec.by_agency and calc.by_agency is not None:
        written += store_agencies(
            session, spec, start, targets, calc.by_agency(session, spec, groups, t0, t1)
        )
    return written


def store(
    session: Session, spec: IndicatorSpec, start: date, targets: list[int], measures: Mapping[int, Measure]
) -> int:
    """Upsert the computed cells (one read of the existing rows); a target without data loses its cell."""
    existing = {row.area_id: row for row in _stored(session, spec, start, targets, agencies=False)}
    now = utcnow()
    written = 0
    for area_id in targets:
        m = measures.get(area_id)
        row = existing.get(area_id)
        if m is None or m.value is None:  # nothing to say (no facts, no denominator): no cell
            if row is not None:
                session.delete(row)
            continue
        if row is None:
            row = IndicatorValue(indicator_code=spec.code, area_id=area_id, period_start=start)
            session.add(row)
        _fill(row, spec, m, now)
        written += 1
    session.flush()
    return written


def store_agencies(
    session: Session,
    spec: IndicatorSpec,
    start: date,
    targets: list[int],
    measures: Mapping[tuple[int, int], Measure],
) -> int:
    """Replace the per-agency cells of ``targets`` for one period (an agency without facts loses its cell)."""
    existing = {
        (row.area_id, row.agency_id): row for row in _stored(session, spec, start, targets, agencies=True)
    }
    wanted = set(targets)
    now = utcnow()
    written = 0
    for key, m in sorted(measures.items()):
        if key[0] not in wanted or m.value is None:
            continue
        row = existing.pop(key, None)
        if row is None:
            row = IndicatorValue(
                indicator_code=spec.code, area_id=key[0], agency_id=key[1], period_start=start
            )
            session.add(row)
        _fill(row, spec, m, now)
        written += 1
    for row in existing.values():
        session.delete(row)
    session.flush()
    return written


def _stored(
    session: Session, spec: IndicatorSpec, start: date, targets: list[int], *, agencies: bool
) -> list[IndicatorValue]:
    """The stored cells of one period for ``targets``: the all-agencies ones, or the per-agency ones."""
    agency = IndicatorValue.agency_id.is_not(None) if agencies else IndicatorValue.agency_id.is_(None)
    return list(
        session.scalars(
            select(IndicatorValue).where(
                IndicatorValue.indicator_code == spec.code,
                IndicatorValue.period_start == start,
                IndicatorValue.area_id.in_(targets),
                agency,
            )
        )
    )


def _fill(row: IndicatorValue, spec: IndicatorSpec, m: Measure, now: datetime) -> None:
    row.value = None if m.value is None else round(m.value, max(spec.decimals, 0) + 2)
    row.numerator, row.denominator, row.inputs = m.numerator, m.denominator, m.inputs
    row.origin, row.method, row.computed_at, row.stale = "computed", spec.method, now, False


def computed_specs(reg: Registry, codes: Iterable[str] | None = None) -> list[IndicatorSpec]:
    wanted = set(codes) if codes is not None else None
    return [
        s
        for s in reg.indicators.values()
        if s.source is not IndicatorSource.MANUAL and (wanted is None or s.code in wanted)
    ]


def recompute(
    session: Session, first: date, last: date, codes: Iterable[str] | None = None, reg: Registry | None = None
) -> int:
    """Rebuild every computed cell of the periods from ``first`` to ``last`` (the caller commits)."""
    reg = reg or load()
    amap = AreaMap.load(session)
    written = 0
    # by code, then period, as the consumers refresh: two writers lock shared cells in the same order
    for spec in sorted(computed_specs(reg, codes), key=lambda s: s.code):
        targets = amap.targets(spec.levels)
        for start in periods.starts_between(first, last, spec.period):
            written += compute(session, reg, amap, spec, start, targets)
    return written


def touched_cells(session: Session, reg: Registry, amap: AreaMap, event: Event) -> set[Cell]:
    """The cells an event's facts belong to, over every calculator listening to its subject."""
    cells: set[Cell] = set()
    for calc in reg.calculators.values():
        if calc.touched is None or not any(subject_matches(s, event.subject) for s in calc.subjects):
            continue
        facts = calc.touched(session, event)
        if not facts:
            continue
        for spec in reg.indicators.values():
            if spec.method != calc.method or spec.source is IndicatorSource.MANUAL:
                continue
            for area_id, moment in facts:
                start = periods.start_at(moment, spec.period)
                for target in amap.cells_for(area_id, spec.levels):
                    cells.add((spec.code, target, start))
    return cells


def mark_stale(session: Session, cells: Iterable[Cell]) -> None:
    """Flag cells stale (creating empty ones), so a failed recompute is finished later, not lost."""
    wanted = sorted(set(cells))
    if not wanted:
        return
    found = {
        (r.indicator_code, r.area_id, r.period_start): r
        for r in session.scalars(
            select(IndicatorValue).where(
                tuple_(
                    IndicatorValue.indicator_code, IndicatorValue.area_id, IndicatorValue.period_start
                ).in_(wanted),
                IndicatorValue.agency_id.is_(None),
            )
        )
    }
    now = utcnow()
    for code, area_id, start in wanted:
        row = found.get((code, area_id, start))
        if row is None:
            row = IndicatorValue(
                indicator_code=code,
                area_id=area_id,
                period_start=start,
                origin="computed",
                computed_at=now,
                inputs=0,
            )
            session.add(row)
        row.stale = True
    session.flush()


def refresh(session: Session, reg: Registry, amap: AreaMap, cells: Iterable[Cell]) -> int:
    """Recompute exactly ``cells``: one calculator call per (indicator, period) over its areas."""
    by_period: dict[tuple[str, date], list[int]] = defaultdict(list)
    for code, area_id, start in cells:
        by_period[(code, start)].append(area_id)
    written = 0
    for (code, start), targets in sorted(by_period.items()):
        spec = reg.indicators.get(code)
        if spec is None:
            continue
        written += compute(session, reg, amap, spec, start, sorted(set(targets)))
    return written


def handle(sessions: sessionmaker[Session], event: Event) -> None:
    """Event consumer: mark the cells the event touched stale (committed), then recompute just those."""
    with sessions() as session:
        reg = load()
        amap = AreaMap.load(session)
        # only indicators already synced into the table (a declaration the start-up sync has not written yet,
        # as in a process that never ran it, would fail the cells' foreign key on every event)
        synced = set(session.scalars(select(Indicator.code).where(Indicator.active.is_(True))))
        cells = {cell for cell in touched_cells(session, reg, amap, event) if cell[0] in synced}
        if not cells:
            return
        mark_stale(session, cells)
        session.commit()
        refresh(session, reg, amap, cells)
        session.commit()


def refresh_stale(session: Session, limit: int = STALE_BATCH) -> int:
    """Recompute cells left stale (at most ``limit``); the caller commits."""
    rows = session.execute(
        select(IndicatorValue.indicator_code, IndicatorValue.area_id, IndicatorValue.period_start)
        .where(IndicatorValue.stale.is_(True))
        .order_by(IndicatorValue.id)
        .limit(limit)
    ).all()
    if not rows:
        return 0
    return refresh(session, load(), AreaMap.load(session), [(c, a, s) for c, a, s in rows])

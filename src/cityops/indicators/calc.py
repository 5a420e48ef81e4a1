"""What calculators share: folding per-area partial sums into each target's :class:`Measure` as the
indicator's ``aggregation`` says, medians per group, and the population of an area.

Calculators (in the capabilities) query their facts once per period grouped by the fact's area, then call
:func:`fold` or :func:`medians`: a commune and its province come out of the same rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.indicators.models import AreaPopulation
from cityops.specs import AreaGroups, IndicatorSpec, Measure

T = TypeVar("T")


@dataclass
class Partial:
    """Sums of one area's facts: ``numerator`` over ``denominator``, made of ``inputs`` facts."""

    numerator: float = 0.0
    denominator: float = 0.0
    inputs: int = 0


def members(groups: AreaGroups, per_area: Mapping[int | None, T]) -> dict[int, list[T]]:
    """Each target's share of ``per_area`` (a None group takes every area, the unlocated facts too)."""
    return {
        target: list(per_area.values()) if ids is None else [per_area[a] for a in ids if a in per_area]
        for target, ids in groups.items()
    }


def union(groups: AreaGroups) -> frozenset[int] | None:
    """Every area any group needs (None when one group takes every fact): the filter of the query."""
    found: set[int] = set()
    for ids in groups.values():
        if ids is None:
            return None
        found.update(ids)
    return frozenset(found)


def fold(
    session: Session,
    spec: IndicatorSpec,
    groups: AreaGroups,
    per_area: Mapping[int | None, Partial],
    year: int,
) -> dict[int, Measure]:
    """One measure per target from the per-area partials, by ``spec.aggregation``.

    ``sum``: the numerators' sum; ``ratio``: numerators over denominators, times ``params["scale"]`` (100
    for a percentage); ``per_capita``: numerators over the target's population, times ``params["per"]``.
    """
    scale = float(spec.params.get("scale", 1))
    out: dict[int, Measure] = {}
    for target, parts in members(groups, per_area).items():
        num = sum(p.numerator for p in parts)
        den = sum(p.denominator for p in parts)
        n = sum(p.inputs for p in parts)
        if spec.aggregation == "sum":
            out[target] = Measure(num, n, num, None)
        elif spec.aggregation == "per_capita":
            pop = population(session, target, year)
            per = float(spec.params.get("per", 10000))
            out[target] = Measure(num * per / pop if pop else None, n, num, float(pop) if pop else None)
        else:
            out[target] = Measure(num * scale / den if den else None, n, num, den)
    return out


def medians(
    groups: AreaGroups,
    samples: Mapping[int | None, list[float]],
    pick: Callable[[list[float]], float] | None = None,
) -> dict[int, Measure]:
    """The median (or ``pick``) of each target's samples; None where it has none."""
    choose = pick or statistics.median
    out: dict[int, Measure] = {}
    for target, lists in members(groups, samples).items():
        values = [v for chunk in lists for v in chunk]
        out[target] = Measure(choose(values) if values else None, len(values))
    return out


AgencyKey = tuple[int | None, int | None]  # (the fact's area, the agency holding it)


def by_agency(per_key: Mapping[AgencyKey, T]) -> dict[int, dict[int | None, T]]:
    """Split per-(area, agency) facts into per-area facts of each agency (facts of no agency are left out)."""
    out: dict[int, dict[int | None, T]] = {}
    for (area_id, agency_id), item in per_key.items():
        if agency_id is not None:
            out.setdefault(agency_id, {})[area_id] = item
    return out


def fold_agencies(
    session: Session,
    spec: IndicatorSpec,
    groups: AreaGroups,
    per_key: Mapping[AgencyKey, Partial],
    year: int,
) -> dict[tuple[int, int], Measure]:
    """:func:`fold` for each agency's facts: a measure per (target, agency) where the agency has facts."""
    out: dict[tuple[int, int], Measure] = {}
    for agency_id, per_area in by_agency(per_key).items():
        for target, m in fold(session, spec, groups, per_area, year).items():
            if m.inputs:
                out[(target, agency_id)] = m
    return out


def median_agencies(
    groups: AreaGroups,
    samples: Mapping[AgencyKey, list[float]],
    pick: Callable[[list[float]], float] | None = None,
) -> dict[tuple[int, int], Measure]:
    """:func:`medians` for each agency's samples, per (target, agency) where the agency has any."""
    out: dict[tuple[int, int], Measure] = {}
    for agency_id, per_area in by_agency(samples).items():
        for target, m in medians(groups, per_area, pick).items():
            if m.inputs:
                out[(target, agency_id)] = m
    return out


def population(session: Session, area_id: int, year: int) -> int | None:
    """The area's population in ``year``, else the latest before it, else the earliest known."""
    rows = session.execute(
        select(AreaPopulation.year, AreaPopulation.population)
        .where(AreaPopulation.area_id == area_id)
        .order_by(AreaPopulation.year)
    ).all()
    before = [p for y, p in rows if y <= year]
    if before:
        return int(before[-1])
    return int(rows[0][1]) if rows else None


def in_filter(column: object, ids: Iterable[int] | None) -> list[object]:
    """``[column IN ids]``, or no condition when every area counts."""
    if ids is None:
        return []
    return [column.in_(sorted(ids))]  # type: ignore[attr-defined]

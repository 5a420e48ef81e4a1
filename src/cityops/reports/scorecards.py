"""Scorecards per agency and per area, read from the case indicators' cells — as rows, CSV or XLSX.

Nothing is counted here: every figure is a stored indicator cell (``cityops.indicators``), kept current
by the indicators' event consumers and ``cityops indicators recompute``. A scorecard covers whole months
(the cells' period) of cases *submitted* in them (the indicators' cohort rule, :func:`counted`):

- ``by="agency"``: one row per agency from the per-agency cells of the scope unit (the province unless
  ``area_id`` names another), and a total row (``key`` None) from its all-agencies cells — which also
  counts the dispatcher's queue (cases no agency holds yet).
- ``by="area"``: one row per commune of the scope, and the scope's total row.

Over several months, counts add up, rates and the mean rating are summed numerators over summed
denominators (exact); a median cannot be made from monthly medians, so the median columns are given when
one month of the range has a median cell (None when several have). Hours are elapsed hours (the indicators' definition).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.indicators.models import IndicatorValue
from cityops.reports import public

By = Literal["agency", "area"]
COLUMNS = (
    "key",
    "name",
    "received",
    "open",
    "resolved",
    "rejected",
    "overdue_open",
    "on_time_pct",
    "median_ack_hours",
    "median_resolve_hours",
    "ratings",
    "satisfaction",
)
TOTAL_NAME = "Tổng cộng"
# column -> the indicator its figure is read from
COUNTS = {
    "received": "cases.received",
    "open": "cases.open",
    "resolved": "cases.resolved",
    "rejected": "cases.rejected",
    "overdue_open": "cases.overdue_open",
}
RATES = {"on_time_pct": ("cases.on_time_rate", 100.0, 1), "satisfaction": ("cases.satisfaction", 1.0, 2)}
MEDIANS = {
    "median_ack_hours": "cases.median_ack_hours",
    "median_resolve_hours": "cases.median_handling_hours",
}
CODES = (*COUNTS.values(), *(c for c, _s, _d in RATES.values()), *MEDIANS.values())


@dataclass
class ScoreRow:
    key: int | None
    name: str
    received: int = 0
    open: int = 0
    resolved: int = 0
    rejected: int = 0
    overdue_open: int = 0
    on_time_pct: float | None = None
    median_ack_hours: float | None = None
    median_resolve_hours: float | None = None
    ratings: int = 0
    satisfaction: float | None = None


Cell = tuple[float | None, float | None, float | None]  # value, numerator, denominator


def scope_units(session: Session, area_id: int | None) -> list[int]:
    """The unit(s) a scorecard covers: ``area_id`` (already resolved to today's unit), else the current
    province(s)."""
    if area_id is not None:
        return [area_id]
    return list(
        session.scalars(
            select(Area.id).where(Area.level == "province", Area.valid_to.is_(None)).order_by(Area.id)
        )
    )


def scorecard(
    session: Session, by: By, first: date, last: date, area_id: int | None = None
) -> list[ScoreRow]:
    """Rows for the months starting ``first`` to ``last`` (month starts), then the total row."""
    scope = scope_units(session, area_id)
    if not scope:
        return []
    in_range = [
        IndicatorValue.indicator_code.in_(CODES),
        IndicatorValue.period_start >= first,
        IndicatorValue.period_start <= last,
    ]
    cells: dict[int | None, dict[str, list[Cell]]] = defaultdict(lambda: defaultdict(list))
    names: dict[int, str] = {}
    if by == "agency":
        rows = session.execute(
            select(
                IndicatorValue.agency_id,
                IndicatorValue.indicator_code,
                IndicatorValue.value,
                IndicatorValue.numerator,
                IndicatorValue.denominator,
            ).where(*in_range, IndicatorValue.area_id.in_(scope))
        )
        for key, code, value, num, den in rows:
            cells[key][code].append((value, num, den))
        names = public.agency_names(session, {k for k in cells if k is not None})
    else:
        area_rows = session.execute(
            select(
                IndicatorValue.area_id,
                Area.name,
                IndicatorValue.indicator_code,
                IndicatorValue.value,
                IndicatorValue.numerator,
                IndicatorValue.denominator,
            )
            .join(Area, Area.id == IndicatorValue.area_id)
            .where(
                *in_range,
                IndicatorValue.agency_id.is_(None),
                or_(Area.id.in_(scope), Area.parent_id.in_(scope)),
            )
        )
        for area, name, code, value, num, den in area_rows:
            key = None if area in scope else int(area)
            cells[key][code].append((value, num, den))
            if key is not None:
                names[key] = str(name)
    out = [_row(k, names.get(k, ""), c) for k, c in cells.items() if k is not None]
    out.sort(key=lambda r: (r.name, r.key or 0))
    if cells:
        out.append(_row(None, TOTAL_NAME, cells.get(None, {})))
    return out


def _row(key: int | None, name: str, cells: dict[str, list[Cell]]) -> ScoreRow:
    row = ScoreRow(key, name)
    for column, code in COUNTS.items():
        setattr(row, column, int(sum(v or 0 for v, _n, _d in cells.get(code, []))))
    for column, (code, scale, decimals) in RATES.items():
        num = sum(n or 0 for _v, n, _d in cells.get(code, []))
        den = sum(d or 0 for _v, _n, d in cells.get(code, []))
        setattr(row, column, round(num * scale / den, decimals) if den else None)
    for column, code in MEDIANS.items():
        found = cells.get(code, [])
        value = found[0][0] if len(found) == 1 else None  # one month's median, never a median of medians
        setattr(row, column, round(value, 2) if value is not None else None)
    row.ratings = int(sum(d or 0 for _v, _n, d in cells.get(RATES["satisfaction"][0], [])))
    return row


def to_csv(rows: list[ScoreRow]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in asdict(row).items()})
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Vietnamese text correctly


def to_xlsx(rows: list[ScoreRow], title: str = "Scorecard") -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(list(COLUMNS))
    for row in rows:
        data = asdict(row)
        ws.append([data[c] for c in COLUMNS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

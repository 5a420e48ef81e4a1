"""Scorecards per agency and per area: received, resolved, on-time %, median working hours to
acknowledge and to resolve, satisfaction — as rows, CSV or XLSX.

Counted over the cases *submitted* in the period ``[since, until)`` that the case indicators count
(:func:`cityops.reports.indicators.counted`: visible, not merged duplicates — their master is), so both
count the same cases. Indicator cells are kept per area (following lineage) and calendar period; a
scorecard is per agency, or per filed area, over any range, so it is computed here with the same rule.
Times are in working hours on the working calendar, so a report filed on Friday evening is not charged
the weekend. ``on_time_pct`` is over resolved cases: resolved by the (possibly
extended) deadline.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.reports import public, sla
from cityops.reports.indicators import counted
from cityops.reports.models import Case, CaseRating
from cityops.settings import Settings

By = Literal["agency", "area"]
COLUMNS = (
    "key",
    "name",
    "received",
    "open",
    "resolved",
    "rejected",
    "on_time_pct",
    "median_ack_hours",
    "median_resolve_hours",
    "ratings",
    "satisfaction",
)


@dataclass
class ScoreRow:
    key: int | None
    name: str
    received: int = 0
    open: int = 0
    resolved: int = 0
    rejected: int = 0
    on_time_pct: float | None = None
    median_ack_hours: float | None = None
    median_resolve_hours: float | None = None
    ratings: int = 0
    satisfaction: float | None = None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def scorecard(
    session: Session, settings: Settings, by: By, since: datetime, until: datetime
) -> list[ScoreRow]:
    """One row per agency (lead) or area, plus no-key rows for the dispatcher queue / unlocated cases."""
    cal = sla.calendar(settings)
    cases = list(session.scalars(select(Case).where(*counted(since, until))))
    ratings: dict[int, list[int]] = defaultdict(list)
    if cases:
        for case_id, score in session.execute(
            select(CaseRating.case_id, CaseRating.score).where(CaseRating.case_id.in_([c.id for c in cases]))
        ):
            ratings[int(case_id)].append(int(score))
    groups: dict[int | None, list[Case]] = defaultdict(list)
    for case in cases:
        groups[case.agency_id if by == "agency" else case.area_id].append(case)
    keys = {k for k in groups if k is not None}
    names = public.agency_names(session, keys) if by == "agency" else public.area_names(session, keys)
    rows = []
    for key, members in groups.items():
        row = ScoreRow(
            key, names.get(key, "") if key is not None else ("(dispatcher)" if by == "agency" else "(none)")
        )
        ack_hours, resolve_hours, on_time = [], [], 0
        scores: list[int] = []
        for case in members:
            row.received += 1
            if case.state in ("resolved", "closed") and case.resolved_at is not None:
                row.resolved += 1
                resolve_hours.append(cal.working_hours_between(case.submitted_at, case.resolved_at))
                if sla.resolved_on_time(case):
                    on_time += 1
            elif case.state == "rejected":
                row.rejected += 1
            else:
                row.open += 1
            if case.acknowledged_at is not None:
                ack_hours.append(cal.working_hours_between(case.submitted_at, case.acknowledged_at))
            scores.extend(ratings.get(case.id, []))
        row.on_time_pct = round(100.0 * on_time / row.resolved, 1) if row.resolved else None
        row.median_ack_hours = _median(ack_hours)
        row.median_resolve_hours = _median(resolve_hours)
        row.ratings = len(scores)
        row.satisfaction = round(sum(scores) / len(scores), 2) if scores else None
        rows.append(row)
    rows.sort(key=lambda r: (r.key is None, r.name, r.key or 0))
    return rows


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

"""Dossier indicators: overdue dossiers and the on-time rate, per month, per agency, for the IOC and scorecards.

A dossier counts for the month its due time falls in (a cohort, as cases count for their submission month).
It is *overdue* when it was returned after its due time, or is still open past it and not waiting on the
applicant (:func:`.lookup.is_overdue`); *on time* when returned by its due time. The on-time rate is on time
over (on time + overdue): dossiers not yet due, or waiting on the applicant, are not judged yet.

Cells follow the upserts (``dossiers.changed`` names the due times a batch touched) and, because an open
dossier turns overdue with no event when its due time passes, the current and previous month are recomputed
every hour by a background task. Dossiers carry no area (the one-stop-shop system does not say which commune a
dossier belongs to), so the cells are the province's, with one cell per agency beside the total.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.events.bus import Event
from cityops.indicators.calc import AgencyKey, Partial, fold, fold_agencies, union
from cityops.sectors.public_services.lookup import is_overdue
from cityops.sectors.public_services.models import Dossier
from cityops.settings import Settings
from cityops.specs import (
    AreaGroups,
    BackgroundTaskSpec,
    DashboardPanelSpec,
    IndicatorCalculatorSpec,
    IndicatorSource,
    IndicatorSpec,
    LegendEntry,
    Measure,
    Period,
)

SUBJECT = "dossiers.changed"
SECTOR = "public_services"
CODES = ("dossiers.overdue", "dossiers.on_time_rate")


def _partials(
    session: Session,
    spec: IndicatorSpec,
    groups: AreaGroups,
    start: datetime,
    end: datetime,
    per_agency: bool,
) -> dict[Any, Partial]:
    stmt = select(Dossier).where(Dossier.due_at >= start, Dossier.due_at < end)
    wanted = union(groups)
    if wanted is not None:
        stmt = stmt.where(Dossier.area_id.in_(sorted(wanted)))
    now = utcnow()
    out: dict[Any, Partial] = {}
    on_time_rate = spec.method == "dossiers.on_time_rate"
    for row in session.scalars(stmt.execution_options(yield_per=1000)):
        key: AgencyKey | int | None = (row.area_id, row.agency_id) if per_agency else row.area_id
        part = out.setdefault(key, Partial())
        late = is_overdue(row, now)
        on_time = row.returned_at is not None and not late
        if on_time_rate:
            if late or on_time:
                part.numerator += 1 if on_time else 0
                part.denominator += 1
                part.inputs += 1
        else:
            part.numerator += 1 if late else 0
            part.inputs += 1
    return out


def _year(start: datetime) -> int:
    return (start + timedelta(hours=7)).year


def _compute(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[int, Measure]:
    return fold(session, spec, groups, _partials(session, spec, groups, start, end, False), _year(start))


def _by_agency(
    session: Session, spec: IndicatorSpec, groups: AreaGroups, start: datetime, end: datetime
) -> Mapping[tuple[int, int], Measure]:
    return fold_agencies(
        session, spec, groups, _partials(session, spec, groups, start, end, True), _year(start)
    )


def _touched(session: Session, event: Event) -> list[tuple[int | None, datetime]]:
    return [(None, datetime.fromisoformat(m)) for m in event.payload.get("due", [])]


def calculators() -> list[IndicatorCalculatorSpec]:
    return [
        IndicatorCalculatorSpec(
            method,
            IndicatorSource.DOSSIERS,
            _compute,
            subjects=(SUBJECT,),
            touched=_touched,
            description=text,
            by_agency=_by_agency,
        )
        for method, text in (
            ("dossiers.overdue", "dossiers due in the period that are late (returned late or open past due)"),
            ("dossiers.on_time_rate", "% of judged dossiers due in the period returned by their due time"),
        )
    ]


def indicators() -> list[IndicatorSpec]:
    common: dict[str, Any] = {
        "period": Period.MONTH,
        "source": IndicatorSource.DOSSIERS,
        "sector": SECTOR,
        "levels": ("province",),
        "by_agency": True,
    }
    return [
        IndicatorSpec(
            code="dossiers.overdue",
            name_vi="Số hồ sơ thủ tục hành chính trễ hạn",
            name_en="Overdue administrative dossiers",
            unit="{dossiers}",
            direction="lower",
            method="dossiers.overdue",
            aggregation="sum",
            decimals=0,
            description_vi="Hồ sơ có hạn trả trong tháng đã trả muộn hoặc quá hạn mà chưa trả (không tính hồ sơ "
            "đang chờ công dân bổ sung).",
            description_en="Dossiers due in the month returned late or still open past due (not those waiting "
            "on the applicant).",
            **common,
        ),
        IndicatorSpec(
            code="dossiers.on_time_rate",
            name_vi="Tỷ lệ hồ sơ giải quyết đúng hạn",
            name_en="Dossiers settled on time",
            unit="%",
            direction="higher",
            method="dossiers.on_time_rate",
            params={"scale": 100},
            aggregation="ratio",
            **common,
        ),
    ]


def panels() -> list[DashboardPanelSpec]:
    return [
        DashboardPanelSpec(
            code="public_services.dossiers",
            title_vi="Hồ sơ thủ tục hành chính",
            title_en="Administrative dossiers",
            sector=SECTOR,
            kind="indicator_tiles",
            indicators=CODES,
            order=60,
        ),
        DashboardPanelSpec(
            code="public_services.overdue_agencies",
            title_vi="Hồ sơ quá hạn theo cơ quan",
            title_en="Overdue dossiers by agency",
            sector=SECTOR,
            kind="map_layer",
            layer_url="/api/v1/public-services/dossiers/overdue.geojson",
            style_property="level",
            legend=(
                LegendEntry("none", "#2e7d32", "Không có hồ sơ quá hạn", "None overdue"),
                LegendEntry("some", "#f9a825", "1–4 hồ sơ quá hạn", "1–4 overdue"),
                LegendEntry("many", "#c62828", "Từ 5 hồ sơ quá hạn", "5 or more overdue"),
            ),
            default_on=True,
            refresh_seconds=300,
            order=61,
        ),
    ]


def _refresh(sessions: sessionmaker[Session], settings: Settings) -> object:
    """Recompute this and last month's dossier cells (open dossiers turn overdue as time passes)."""
    from cityops.db import session_scope
    from cityops.indicators.engine import recompute

    today = (utcnow() + timedelta(hours=7)).date()
    with session_scope(sessions) as session:
        return recompute(session, (today.replace(day=1) - timedelta(days=1)).replace(day=1), today, CODES)


def background_tasks() -> list[BackgroundTaskSpec]:
    return [
        BackgroundTaskSpec(
            "public_services.dossier_indicators",
            3600,
            _refresh,
            initial_delay_seconds=120,
            description="dossier indicators of this and last month (overdue as due times pass)",
        )
    ]

"""Demo cases for the pilot: reports in communes that have an agency, in varied states, and work for every
demo officer.

Routing gives a category named by a department's jurisdiction to the department even inside a ward, so a
ward committee's officer would see only "other" reports. Each agency with staff therefore gets its own
handful: reports that route to it, or (as a dispatcher does) reports in its area transferred to it, then
acknowledged and started by its officer, so the README's ``tanan.officer`` signs in to an inbox with work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.clock import utcnow
from cityops.identity.models import AgencyJurisdiction, Membership, Role, User
from cityops.identity.policy import Principal, PrincipalKind
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.intake import Submission, submit
from cityops.reports.models import Case
from cityops.reports.workflow import CaseAction
from cityops.settings import Settings

SAMPLES = (
    ("lighting", "Đèn đường trước trường tiểu học không sáng ba đêm liền", ()),
    ("waste", "Rác sinh hoạt đổ bừa bãi ven kênh", (CaseAction.ACKNOWLEDGE,)),
    ("drainage", "Cống thoát nước bị nghẹt, mưa lớn là ngập", (CaseAction.ACKNOWLEDGE,)),
    ("trees", "Cành cây gãy đè lên vỉa hè", (CaseAction.ACKNOWLEDGE, CaseAction.RESOLVE)),
    ("traffic", "Đèn tín hiệu giao lộ chỉ sáng đèn vàng", ()),
    (
        "water",
        "Nước máy có mùi lạ từ sáng nay",
        (CaseAction.ACKNOWLEDGE, CaseAction.RESOLVE, CaseAction.CLOSE),
    ),
)

# An inbox for each agency's officer: a new report, one acknowledged, one the officer is working on.
INBOX = (
    ("lighting", "Bóng đèn cao áp trên đường Hùng Vương chập chờn cả tuần", ()),
    ("other", "Bảng tên đường ở ngã tư bị gãy, người lạ khó tìm đường", (CaseAction.ACKNOWLEDGE,)),
    (
        "drainage",
        "Nắp cống trước nhà số 12 bị vỡ, nguy hiểm cho xe máy",
        (CaseAction.ACKNOWLEDGE, CaseAction.START),
    ),
)
TRANSFER_NOTE = "Chuyển đơn vị có thẩm quyền trên địa bàn xử lý"
DONE_NOTE = "Đã xử lý xong, cảm ơn người dân"


@dataclass(frozen=True)
class Staffed:
    """An agency with a demo officer: where its reports are placed and who works them."""

    agency_id: int
    officer_id: int
    area_id: int
    lat: float
    lon: float


def _officer(session: Session, agency_id: int | None) -> int | None:
    if agency_id is None:
        return None
    return session.scalar(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency_id, User.role.in_([Role.OFFICER, Role.SUPERVISOR]))
        .order_by(User.id)
        .limit(1)
    )


def _staffed(session: Session, fallback: tuple[int, float | None, float | None]) -> list[Staffed]:
    """Agencies with an active officer, each with a point in its jurisdiction (a commune's centre; for a
    province-wide department, ``fallback``)."""
    rows = session.execute(
        select(Membership.agency_id, User.id)
        .join(User, User.id == Membership.user_id)
        .where(User.role == Role.OFFICER, User.is_active.is_(True))
        .order_by(Membership.agency_id, User.id)
    ).all()
    officers: dict[int, int] = {}
    for agency_id, user_id in rows:
        officers.setdefault(agency_id, user_id)
    out: list[Staffed] = []
    for agency_id, officer_id in officers.items():
        commune = session.execute(
            select(Area.id, Area.lat, Area.lon)
            .join(AgencyJurisdiction, AgencyJurisdiction.area_id == Area.id)
            .where(
                AgencyJurisdiction.agency_id == agency_id,
                Area.level == "commune",
                Area.valid_to.is_(None),
                Area.lat.is_not(None),
                Area.lon.is_not(None),
            )
            .order_by(Area.id)
            .limit(1)
        ).first()
        area_id, lat, lon = (commune[0], commune[1], commune[2]) if commune is not None else fallback
        assert lat is not None
        assert lon is not None
        out.append(Staffed(agency_id, officer_id, area_id, lat, lon))
    return out


def _as_user(session: Session, user_id: int) -> Actor:
    user = session.get(User, user_id)
    assert user is not None
    return Actor(Principal.for_user(user))


def _inbox(
    session: Session, settings: Settings, operator: Actor, staffed: Staffed, now: datetime, offset: int
) -> int:
    """Three reports for ``staffed``'s officer: routed there, or transferred there by the dispatcher."""
    officer = _as_user(session, staffed.officer_id)
    for i, (category, text, steps) in enumerate(INBOX):
        sub = Submission(
            category_code=category,
            description=text,
            lat=staffed.lat + 0.0006 * (i + 1),
            lon=staffed.lon - 0.0004 * offset,
            source="demo",
        )
        case = submit(session, settings, operator, sub, now=now - timedelta(hours=30 - 9 * i)).case
        if case.agency_id != staffed.agency_id:
            req = ActionRequest(CaseAction.TRANSFER, agency_id=staffed.agency_id, comment=TRANSFER_NOTE)
            perform(session, settings, operator, case, req)
        for step in steps:
            perform(session, settings, officer, case, ActionRequest(step))
    return len(INBOX)


def load(session: Session, settings: Settings, console: Console) -> None:
    """Sync the categories and add demo cases once (skipped when demo cases exist)."""
    sync_categories(session)
    if session.scalar(select(Case.id).where(Case.source == "demo").limit(1)) is not None:
        return
    communes = session.execute(
        select(Area.id, Area.lat, Area.lon)
        .join(AgencyJurisdiction, AgencyJurisdiction.area_id == Area.id)
        .where(Area.level == "commune", Area.valid_to.is_(None), Area.lat.is_not(None), Area.lon.is_not(None))
        .distinct()
        .order_by(Area.id)
        .limit(len(SAMPLES))
    ).all()
    if not communes:
        console.print("[yellow]reports: no commune with an agency; no demo cases[/yellow]")
        return
    operator = Actor(Principal(kind=PrincipalKind.USER, role=Role.OPERATOR, label="demo"))
    now = utcnow()
    made = 0
    for i, (category, text, steps) in enumerate(SAMPLES):
        _, lat, lon = communes[i % len(communes)]
        assert lat is not None
        assert lon is not None
        sub = Submission(
            category_code=category, description=text, lat=lat + 0.0004 * i, lon=lon, source="demo"
        )
        case = submit(session, settings, operator, sub, now=now - timedelta(days=len(SAMPLES) - i)).case
        officer = _officer(session, case.agency_id)
        for step in steps:
            if step is CaseAction.RESOLVE:
                if officer is None:
                    break
                perform(
                    session, settings, operator, case, ActionRequest(CaseAction.ASSIGN, assignee_id=officer)
                )
            comment = DONE_NOTE if step is not CaseAction.ACKNOWLEDGE else None
            perform(session, settings, operator, case, ActionRequest(step, comment=comment))
        made += 1
    first = communes[0]
    fallback = (first[0], first[1], first[2])
    for n, staffed in enumerate(_staffed(session, fallback)):
        made += _inbox(session, settings, operator, staffed, now, n)
    console.print(f"reports: {made} demo cases")

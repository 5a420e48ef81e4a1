"""Demo cases for the pilot: a few reports in communes that have an agency, in varied states."""

from __future__ import annotations

from datetime import timedelta

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
            comment = "Đã xử lý xong, cảm ơn người dân" if step is not CaseAction.ACKNOWLEDGE else None
            perform(session, settings, operator, case, ActionRequest(step, comment=comment))
        made += 1
    console.print(f"reports: {made} demo cases")

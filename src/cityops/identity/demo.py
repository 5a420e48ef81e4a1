"""Pilot demo data for identity: the agencies of Tây Ninh (former Long An side) and one user per role.

Category codes are plain strings agreed with the reports capability (which defines the categories):
roads, lighting, drainage, waste, environment, public_order, traffic, health, education, tourism,
water, trees, construction, other. Ward/commune committees handle every category in their area;
departments handle their categories province-wide (the smaller area wins when routing).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.identity.agencies import add_jurisdiction, create_agency
from cityops.identity.models import Agency, AgencyJurisdiction, AgencyKind, Role, User
from cityops.identity.users import create_user
from cityops.settings import Settings

DEMO_LABEL = "demo"
PROVINCE_CODE = "80"  # Tây Ninh after 1 July 2025


@dataclass(frozen=True)
class DemoAgency:
    code: str
    name: str
    kind: AgencyKind
    area_code: str  # commune code, or the province code for departments
    categories: tuple[str, ...] = ()  # empty: every category


AGENCIES: tuple[DemoAgency, ...] = (
    DemoAgency("ubnd-p-tan-an", "Ủy ban nhân dân phường Tân An", AgencyKind.WARD_COMMITTEE, "27712"),
    DemoAgency("ubnd-p-long-an", "Ủy ban nhân dân phường Long An", AgencyKind.WARD_COMMITTEE, "27694"),
    DemoAgency("ubnd-p-khanh-hau", "Ủy ban nhân dân phường Khánh Hậu", AgencyKind.WARD_COMMITTEE, "27715"),
    DemoAgency("ubnd-x-ben-luc", "Ủy ban nhân dân xã Bến Lức", AgencyKind.WARD_COMMITTEE, "27991"),
    DemoAgency("ubnd-x-duc-hoa", "Ủy ban nhân dân xã Đức Hòa", AgencyKind.WARD_COMMITTEE, "27937"),
    DemoAgency("ubnd-x-can-duoc", "Ủy ban nhân dân xã Cần Đước", AgencyKind.WARD_COMMITTEE, "28108"),
    DemoAgency("ubnd-x-can-giuoc", "Ủy ban nhân dân xã Cần Giuộc", AgencyKind.WARD_COMMITTEE, "28159"),
    DemoAgency(
        "so-xd",
        "Sở Xây dựng tỉnh Tây Ninh",
        AgencyKind.DEPARTMENT,
        PROVINCE_CODE,
        ("roads", "lighting", "drainage", "construction", "trees"),
    ),
    DemoAgency(
        "so-nnmt",
        "Sở Nông nghiệp và Môi trường tỉnh Tây Ninh",
        AgencyKind.DEPARTMENT,
        PROVINCE_CODE,
        ("environment", "waste", "water"),
    ),
    DemoAgency("so-yt", "Sở Y tế tỉnh Tây Ninh", AgencyKind.DEPARTMENT, PROVINCE_CODE, ("health",)),
    DemoAgency(
        "so-gddt",
        "Sở Giáo dục và Đào tạo tỉnh Tây Ninh",
        AgencyKind.DEPARTMENT,
        PROVINCE_CODE,
        ("education",),
    ),
    DemoAgency(
        "so-vhttdl",
        "Sở Văn hóa, Thể thao và Du lịch tỉnh Tây Ninh",
        AgencyKind.DEPARTMENT,
        PROVINCE_CODE,
        ("tourism",),
    ),
    DemoAgency(
        "ca-tinh", "Công an tỉnh Tây Ninh", AgencyKind.POLICE, PROVINCE_CODE, ("public_order", "traffic")
    ),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: Role
    full_name: str
    agency_code: str | None = None
    phone: str | None = None


USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", Role.ADMIN, "Quản trị hệ thống"),
    DemoUser("operator", Role.OPERATOR, "Trực IOC Nguyễn Văn Trực"),
    DemoUser("tanan.supervisor", Role.SUPERVISOR, "Lê Thị Giám Sát", "ubnd-p-tan-an"),
    DemoUser("tanan.officer", Role.OFFICER, "Trần Văn Cán Bộ", "ubnd-p-tan-an"),
    DemoUser("soxd.supervisor", Role.SUPERVISOR, "Phạm Thị Trưởng Phòng", "so-xd"),
    DemoUser("soxd.officer", Role.OFFICER, "Võ Văn Kỹ Sư", "so-xd"),
    DemoUser("citizen", Role.CITIZEN, "Nguyễn Thị Dân", phone="0912345678"),
)


def demo_password(username: str) -> str:
    """The well-known dev password of a demo user (only used when settings.is_dev)."""
    return f"{username}-demo"


def _area_id(session: Session, code: str) -> int | None:
    level = "province" if code == PROVINCE_CODE else "commune"
    return session.scalar(
        select(Area.id).where(Area.code == code, Area.level == level, Area.valid_to.is_(None))
    )


def load(session: Session, settings: Settings, console: Console) -> None:
    """Create the demo agencies, their jurisdiction and users; existing ones are left as they are."""
    missing_areas: set[str] = set()
    for spec in AGENCIES:
        agency = session.scalar(select(Agency).where(Agency.code == spec.code))
        if agency is None:
            agency = create_agency(
                session, code=spec.code, name=spec.name, kind=spec.kind, audit_label=DEMO_LABEL
            )
        area_id = _area_id(session, spec.area_code)
        if area_id is None:
            missing_areas.add(spec.area_code)
            continue
        have = {
            (j.area_id, j.category_code)
            for j in session.scalars(
                select(AgencyJurisdiction).where(AgencyJurisdiction.agency_id == agency.id)
            )
        }
        for category in spec.categories or (None,):
            if (area_id, category) not in have:
                add_jurisdiction(
                    session, agency, area_id=area_id, category_code=category, audit_label=DEMO_LABEL
                )
    if missing_areas:
        console.print(
            f"[yellow]Areas {', '.join(sorted(missing_areas))} are not loaded; agencies have no jurisdiction "
            "there yet (run `cityops demo` again after loading areas).[/yellow]"
        )

    created: list[tuple[DemoUser, str]] = []
    for spec_user in USERS:
        if session.scalar(select(User.id).where(User.username == spec_user.username)):
            continue
        # Outside dev, demo accounts get random passwords nobody sees: reset them with the CLI to use them.
        password = demo_password(spec_user.username) if settings.is_dev else secrets.token_urlsafe(24)
        agency_ids = []
        if spec_user.agency_code:
            found = session.scalar(select(Agency.id).where(Agency.code == spec_user.agency_code))
            if found is not None:
                agency_ids.append(found)
        create_user(
            session,
            role=spec_user.role,
            username=spec_user.username,
            phone=spec_user.phone,
            full_name=spec_user.full_name,
            password=password,
            agency_ids=agency_ids,
            audit_label=DEMO_LABEL,
        )
        created.append((spec_user, password))
    session.flush()
    if created and settings.is_dev:
        table = Table("user", "role", "agency", "password", title="Demo users (dev mode only)")
        for spec_user, password in created:
            table.add_row(spec_user.username, spec_user.role.value, spec_user.agency_code or "", password)
        console.print(table)
    elif created:
        console.print(f"{len(created)} demo users created; passwords are not shown outside dev mode.")

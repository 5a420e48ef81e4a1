"""A small world for case tests: two wards in one province, agencies with jurisdictions, staff users.

Built directly from the models so the case tests do not depend on the demo data. Coordinates: ward A is
the square lon 106.00–106.01, lat 10.00–10.01; ward B is lon 106.01–106.02 (same lat band).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.identity.models import Agency, AgencyJurisdiction, ApiKey, Membership, Role, User
from cityops.identity.policy import Principal
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.reports.models import Case
from cityops.settings import Settings

# Monday 2 March 2026, 09:00 in Hồ Chí Minh (02:00 UTC): a working morning.
MONDAY_9 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
A_POINT = (10.005, 106.005)  # inside ward A
B_POINT = (10.005, 106.015)  # inside ward B


def _square(lon0: float, lat0: float, lon1: float, lat1: float) -> dict[str, object]:
    return {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }


@dataclass
class World:
    session: Session
    settings: Settings
    province: Area
    ward_a: Area
    ward_b: Area
    ward_a_committee: Agency
    ward_b_committee: Agency
    transport: Agency
    users: dict[str, User] = field(default_factory=dict)

    def actor(self, name: str) -> Actor:
        user = self.session.get(User, self.users[name].id)
        assert user is not None
        return Actor(Principal.for_user(user))

    def submit(
        self,
        *,
        category: str = "lighting",
        point: tuple[float, float] = A_POINT,
        actor: Actor | None = None,
        now: datetime = MONDAY_9,
        **kw: object,
    ) -> Case:
        sub = Submission(
            category_code=category,
            lat=point[0],
            lon=point[1],
            description=str(kw.pop("description", "Đèn đường hỏng")),
            **kw,
        )  # type: ignore[arg-type]
        result = submit(self.session, self.settings, actor or Actor(Principal.anonymous()), sub, now=now)
        self.session.commit()
        return result.case


def _user(session: Session, name: str, role: Role, agencies: list[Agency]) -> User:
    user = User(username=name, full_name=name.title(), role=role, phone=None)
    session.add(user)
    session.flush()
    for agency in agencies:
        session.add(Membership(user_id=user.id, agency_id=agency.id))
    session.flush()
    session.refresh(user)
    return user


def build_world(session: Session, settings: Settings) -> World:
    sync_categories(session)
    province = Area(
        code="80",
        level="province",
        kind="Tỉnh",
        name="Tây Ninh",
        name_key="tay ninh",
        valid_from=date(2025, 7, 1),
        geometry=_square(105.9, 9.9, 106.1, 10.1),
    )
    session.add(province)
    session.flush()
    ward_a = Area(
        code="27694",
        level="commune",
        kind="Phường",
        name="Phường Long An",
        name_key="phuong long an",
        parent_id=province.id,
        valid_from=date(2025, 7, 1),
        geometry=_square(106.0, 10.0, 106.01, 10.01),
    )
    ward_b = Area(
        code="27695",
        level="commune",
        kind="Phường",
        name="Phường Tân An",
        name_key="phuong tan an",
        parent_id=province.id,
        valid_from=date(2025, 7, 1),
        geometry=_square(106.01, 10.0, 106.02, 10.01),
    )
    session.add_all([ward_a, ward_b])
    session.flush()
    a = Agency(code="ubnd-long-an", name="UBND phường Long An", name_key="ubnd phuong long an")
    b = Agency(code="ubnd-tan-an", name="UBND phường Tân An", name_key="ubnd phuong tan an")
    t = Agency(code="so-xay-dung", name="Sở Xây dựng", name_key="so xay dung")
    session.add_all([a, b, t])
    session.flush()
    session.add_all(
        [
            AgencyJurisdiction(agency_id=a.id, area_id=ward_a.id, category_code=None),
            AgencyJurisdiction(agency_id=b.id, area_id=ward_b.id, category_code=None),
            AgencyJurisdiction(agency_id=t.id, area_id=province.id, category_code="roads"),
        ]
    )
    world = World(session, settings, province, ward_a, ward_b, a, b, t)
    world.users = {
        "officer_a": _user(session, "officer_a", Role.OFFICER, [a]),
        "officer_a2": _user(session, "officer_a2", Role.OFFICER, [a]),
        "supervisor_a": _user(session, "supervisor_a", Role.SUPERVISOR, [a]),
        "officer_b": _user(session, "officer_b", Role.OFFICER, [b]),
        "supervisor_b": _user(session, "supervisor_b", Role.SUPERVISOR, [b]),
        "officer_t": _user(session, "officer_t", Role.OFFICER, [t]),
        "operator": _user(session, "operator", Role.OPERATOR, []),
        "admin": _user(session, "admin", Role.ADMIN, []),
        "citizen": _user(session, "citizen", Role.CITIZEN, []),
        "citizen2": _user(session, "citizen2", Role.CITIZEN, []),
    }
    session.commit()
    return world


@pytest.fixture
def world(session: Session, settings: Settings) -> World:
    return build_world(session, settings)


def jpeg_bytes(
    color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48), gps: bool = False
) -> bytes:
    """A small real JPEG; with ``gps`` its EXIF places it at A_POINT (10°0'18"N 106°0'18"E)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    image = Image.new("RGB", size, color)
    if gps:
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (10.0, 0.0, 18.0), 3: "E", 4: (106.0, 0.0, 18.0)}
        image.save(buf, "JPEG", exif=exif.tobytes())
    else:
        image.save(buf, "JPEG")
    return buf.getvalue()


def make_open311_key(session: Session) -> str:
    """An API key with the open311 scope; returns the raw key."""
    from cityops.identity.tokens import new_api_key

    raw, prefix, secret_hash = new_api_key()
    session.add(ApiKey(name="integrator", prefix=prefix, secret_hash=secret_hash, scopes=["open311"]))
    session.commit()
    return raw


__all__ = [
    "A_POINT",
    "B_POINT",
    "MONDAY_9",
    "ApiKey",
    "World",
    "build_world",
    "jpeg_bytes",
    "make_open311_key",
]

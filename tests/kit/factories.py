"""Factories for the core rows tests need, as one ``factory`` fixture on whichever backend the test runs.

Each method commits through its own session (the app under test sees the row at once) and returns the
row, detached but loaded. They wrap the capability fixtures and helpers that already exist
(``tests/fixtures_identity.py``, ``tests/alerts/support.py``, the intake and ingest services) rather than
copy them, so a change to how a user or a station is built is made in one place::

    def test_inbox(client, factory):
        ward = factory.area("Phường Tân An")
        case = factory.case(area=ward)
        client.get("/api/v1/reports/inbox", headers=factory.headers("operator"))

``factory.headers(role)`` signs in one user per role (officers and supervisors belong to
``factory.home_agency``), so a test can ask "as whom" by name; ``"anonymous"`` gives no headers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.models import Alert, AlertArea, AlertState, AlertSubscription, Rule, Severity
from cityops.areas.lookup import invalidate_cache as invalidate_area_index
from cityops.areas.models import Area
from cityops.identity.models import Agency, ApiScope, Role, User
from cityops.identity.policy import Principal
from cityops.places.models import Place
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.reports.models import Case, Category, ResponseTemplate
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, Location, thing_locations
from cityops.settings import Settings
from cityops.text import search_key
from tests.alerts.support import make_area, make_station, salinity_rule

T = TypeVar("T")
_seq = itertools.count(1)
# Monday 2 March 2026, 09:00 in Hồ Chí Minh: the default moment for cases and observations.
MOMENT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CELL_DEG = 0.01  # each factory area is its own 0.01° square, so points never fall in two of them


def square(lon0: float, lat0: float, size: float = CELL_DEG) -> dict[str, Any]:
    """A GeoJSON square polygon with its south-west corner at ``(lon0, lat0)``."""
    lon1, lat1 = lon0 + size, lat0 + size
    return {
        "type": "Polygon",
        "coordinates": [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]],
    }


def centre(area: Area) -> tuple[float, float]:
    """``(lat, lon)`` of the middle of a factory area's square."""
    assert area.geometry is not None, "an area without geometry has no centre"
    ring = area.geometry["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2


@dataclass
class Factory:
    """Builds committed rows; see the module docstring. One per test (the ``factory`` fixture)."""

    sessions: sessionmaker[Session]
    settings: Settings
    make_user: Callable[..., User]
    make_agency: Callable[..., Agency]
    make_api_key: Callable[..., str]
    auth: Callable[[User], dict[str, str]]
    _role_users: dict[str, User] = field(default_factory=dict)
    _role_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    _home_agency: Agency | None = None
    _categories_synced: bool = False

    @staticmethod
    def batch(n: int, make: Callable[[], T]) -> list[T]:
        """``n`` rows from ``make`` (``factory.batch(20, factory.agency)``)."""
        return [make() for _ in range(n)]

    # --- areas ------------------------------------------------------------------------------------

    def area(
        self,
        name: str | None = None,
        *,
        code: str | None = None,
        level: str = "commune",
        parent: Area | None = None,
        valid_from: date | None = date(2025, 7, 1),
        valid_to: date | None = None,
    ) -> Area:
        """A unit with its own 0.01° square (wraps ``tests.alerts.support.make_area``)."""
        n = next(_seq)
        lon0, lat0 = 105.0 + (n % 100) * CELL_DEG, 10.0 + (n // 100) * CELL_DEG
        with self.sessions() as s:
            area = make_area(s, name or f"Phường Thử {n}", code or f"9{n:05d}")
            area.level = level
            area.kind = {"province": "Tỉnh", "district": "Huyện"}.get(level, "Phường")
            area.parent_id = parent.id if parent else None
            area.valid_from, area.valid_to = valid_from, valid_to
            area.geometry = square(lon0, lat0)
            area.lat, area.lon = lat0 + CELL_DEG / 2, lon0 + CELL_DEG / 2
            s.commit()
            s.refresh(area)
        invalidate_area_index()  # the point lookup caches the unit list; it must see the new one now
        return area

    # --- identity ---------------------------------------------------------------------------------

    def agency(self, code: str | None = None, *, area: Area | None = None, **kw: Any) -> Agency:
        """An agency, with a jurisdiction over ``area`` if given (wraps the ``make_agency`` fixture)."""
        return self.make_agency(code, area_id=area.id if area else None, **kw)

    def user(self, role: Role | str = Role.CITIZEN, agency: Agency | None = None, **kw: Any) -> User:
        """A user (wraps the ``make_user`` fixture); officers and supervisors default to ``home_agency``."""
        if agency is None and Role(role) in (Role.OFFICER, Role.SUPERVISOR):
            agency = self.home_agency
        return self.make_user(role, agency, **kw)

    @property
    def home_agency(self) -> Agency:
        """The agency the role users of :meth:`headers` belong to."""
        if self._home_agency is None:
            self._home_agency = self.make_agency("kit-home", "Cơ quan của bộ thử")
        return self._home_agency

    def role_user(self, role: str) -> User:
        """The one user of ``role`` this test signs in as (made on first use)."""
        if role not in self._role_users:
            self._role_users[role] = self.user(role, username=f"kit-{role}")
        return self._role_users[role]

    def headers(self, who: str | User) -> dict[str, str]:
        """Bearer headers for a role name (``"anonymous"``: none) or a given user."""
        if isinstance(who, User):
            return self.auth(who)
        if who == "anonymous":
            return {}
        if who not in self._role_headers:  # one token per role and test: each would be a new session
            self._role_headers[who] = self.auth(self.role_user(who))
        return self._role_headers[who]

    def api_key(self, scopes: Iterable[ApiScope | str] = (ApiScope.READ,), **kw: Any) -> str:
        """A raw API key for ``X-API-Key`` (wraps the ``make_api_key`` fixture)."""
        return self.make_api_key(scopes, **kw)

    # --- cases ------------------------------------------------------------------------------------

    def category(self, code: str | None = None, **kw: Any) -> Category:
        """An active report category (most tests use the synced ones: ``lighting``, ``roads``, ...)."""
        n = next(_seq)
        name = kw.pop("name_vi", f"Loại thử {n}")
        with self.sessions() as s:
            row = Category(
                code=code or f"kit-{n}",
                name_vi=name,
                name_en=f"Test category {n}",
                name_key=search_key(name),
                **kw,
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    def case(
        self,
        *,
        area: Area | None = None,
        category: str = "lighting",
        reporter: User | None = None,
        description: str = "Đèn đường hỏng",
        now: datetime = MOMENT,
        **kw: Any,
    ) -> Case:
        """A case submitted through intake (routing, deadlines, timeline) at the centre of ``area``
        (a new one if omitted); ``reporter`` makes it a signed-in citizen's report."""
        area = area or self.area()
        lat, lon = centre(area)
        principal = Principal.for_user(reporter) if reporter else Principal.anonymous()
        with self.sessions() as s:
            if not self._categories_synced:
                sync_categories(s)
                self._categories_synced = True
            sub = Submission(category_code=category, description=description, lat=lat, lon=lon, **kw)
            result = submit(s, self.settings, Actor(principal), sub, now=now)
            s.commit()
            s.refresh(result.case)
            return result.case

    def response_template(self, agency: Agency | None = None, **kw: Any) -> ResponseTemplate:
        """An officers' answer template (shared when ``agency`` is None)."""
        n = next(_seq)
        with self.sessions() as s:
            row = ResponseTemplate(
                agency_id=agency.id if agency else None,
                action=kw.get("action"),
                title=kw.get("title", f"Mẫu trả lời {n}"),
                body=kw.get("body", "Cảm ơn bạn đã báo."),
            )
            s.add(row)
            s.commit()
            s.refresh(row)
            return row

    # --- sensing ----------------------------------------------------------------------------------

    def station(
        self,
        property_code: str = "salinity",
        *,
        name: str | None = None,
        area: Area | None = None,
        kind: str | None = None,
    ) -> Datastream:
        """A Thing with one Datastream of ``property_code`` (wraps ``tests.alerts.support.make_station``),
        located at the centre of ``area`` if given; with ``kind`` it is an environment station
        (``station_code`` and ``kind`` properties)."""
        n = next(_seq)
        extra = {"station_code": f"KIT{n:04d}", "kind": kind} if kind else None
        with self.sessions() as s:
            ds = make_station(
                s,
                name or f"Trạm thử {n}",
                property_code,
                area_ids=[area.id] if area else None,
                extra=extra,
            )
            if area is not None:
                lat, lon = centre(area)
                point = {"type": "Point", "coordinates": [lon, lat]}
                loc = Location(name=f"Vị trí {n}", location=point, lat=lat, lon=lon)
                s.add(loc)
                s.flush()
                s.execute(thing_locations.insert().values(thing_id=ds.thing_id, location_id=loc.id))
            s.commit()
            s.refresh(ds)
            return ds

    def observations(
        self,
        datastream: Datastream,
        values: Sequence[float],
        *,
        start: datetime = MOMENT,
        step: timedelta = timedelta(minutes=5),
    ) -> int:
        """Store ``values`` every ``step`` from ``start`` through the ingest path; returns how many."""
        rows = [ObservationIn(datastream.id, start + i * step, v) for i, v in enumerate(values)]
        with self.sessions() as s:
            inserted = ingest_observations(s, rows, emit_event=False).inserted
            s.commit()
            return inserted

    # --- alerts -----------------------------------------------------------------------------------

    def alert_rule(self, **kw: Any) -> Rule:
        """A salinity threshold rule on the ``salinity`` property (wraps ``salinity_rule``)."""
        with self.sessions() as s:
            rule = salinity_rule(s, **kw)
            s.commit()
            s.refresh(rule)
            return rule

    def alert(
        self,
        *,
        rule: Rule | None = None,
        severity: Severity = Severity.WARNING,
        areas: Sequence[Area] = (),
        state: AlertState = AlertState.OPEN,
    ) -> Alert:
        """An alert row as a rule would open it (the rules engine has its own tests)."""
        with self.sessions() as s:
            alert = Alert(
                rule_id=rule.id if rule else None,
                state=state,
                severity=severity,
                opened_at=MOMENT,
                area_ids=[a.id for a in areas],
                message_vi="Độ mặn vượt ngưỡng",
                message_en="Salinity above threshold",
            )
            s.add(alert)
            s.flush()
            s.add_all(AlertArea(alert_id=alert.id, area_id=a.id) for a in areas)
            s.commit()
            s.refresh(alert)
            return alert

    def alert_subscription(self, user: User, area: Area | None = None) -> AlertSubscription:
        """``user`` follows the alerts of ``area`` (a new one if omitted)."""
        area = area or self.area()
        with self.sessions() as s:
            sub = AlertSubscription(
                area_id=area.id, user_id=user.id, min_severity=Severity.WATCH, locale="vi", created_at=MOMENT
            )
            s.add(sub)
            s.commit()
            s.refresh(sub)
            return sub

    # --- places ------------------------------------------------------------------------------------

    def place(
        self,
        type_code: str = "station",
        *,
        name: str | None = None,
        lon: float = 106.41,
        lat: float = 10.535,
        attributes: dict[str, Any] | None = None,
        **fields: Any,
    ) -> Place:
        """A place of a declared type, validated and audited by the places service as the API would (a water
        station by default); ``fields`` are other place fields (status, external_id, valid_to, ...)."""
        from cityops.places import service
        from cityops.places.geometry import point
        from cityops.places.types import get_type

        if attributes is None:
            attributes = {"kind": "water"} if type_code == "station" else {}
        with self.sessions() as s:
            ptype = get_type(s, type_code)
            given = {"name": name or f"Địa điểm {next(_seq)}", "geometry": point(lon, lat), **fields}
            values = service.prepare(s, ptype, {**given, "attributes": attributes})
            place = service.create_place(s, ptype, values, actor=None, label="test")
            s.commit()
            s.refresh(place)
            return place

    # --- indicators and programmes ------------------------------------------------------------------

    def indicator_set(self, code: str | None = None) -> str:
        """A published indicator set with one indicator in it; returns the set's code."""
        from cityops.indicators.models import IndicatorSet

        n = next(_seq)
        code = code or f"kit-set-{n}"
        with self.sessions() as s:
            s.add(IndicatorSet(code=code, name_vi=f"Bộ chỉ số {n}", name_en=f"Indicator set {n}"))
            s.commit()
        self.indicator(sets=[(code, "1")])
        return code

    def indicator(self, code: str | None = None, *, sets: Sequence[tuple[str, str]] = ()) -> str:
        """A hand-entered indicator (as a plugin would declare it), in ``sets``; returns its code."""
        from cityops.indicators.models import Indicator, IndicatorSetMember

        n = next(_seq)
        code = code or f"kit.indicator_{n}"
        with self.sessions() as s:
            s.add(
                Indicator(
                    code=code,
                    name_vi=f"Chỉ số {n}",
                    name_en=f"Indicator {n}",
                    unit="%",
                    direction="higher",
                    period="year",
                    source="manual",
                    sector="kit",
                    levels=["province"],
                )
            )
            s.flush()
            for set_code, number in sets:
                s.add(IndicatorSetMember(indicator_code=code, set_code=set_code, number=number))
            s.commit()
        return code

    def programme(self, code: str | None = None, projects: int = 2) -> str:
        """A programme with ``projects`` projects, each with one disbursement; returns its code."""
        from cityops.programmes.schemas import ProgrammeIn
        from cityops.programmes.service import import_programme

        n = next(_seq)
        doc = {
            "code": code or f"kit-programme-{n}",
            "name_vi": f"Đề án {n}",
            "name_en": f"Programme {n}",
            "budget_planned_vnd": 10**10,
            "projects": [
                {
                    "code": f"p{i}",
                    "name_vi": f"Dự án {i}",
                    "name_en": f"Project {i}",
                    "budget_planned_vnd": 10**9,
                    "disbursements": [{"disbursed_on": "2025-06-01", "amount_vnd": 10**8}],
                }
                for i in range(projects)
            ],
        }
        with self.sessions() as s:
            import_programme(s, ProgrammeIn.model_validate(doc))
            s.commit()
        return str(doc["code"])


@pytest.fixture
def factory(
    sessions: sessionmaker[Session],
    settings: Settings,
    make_user: Callable[..., User],
    make_agency: Callable[..., Agency],
    make_api_key: Callable[..., str],
    auth: Callable[[User], dict[str, str]],
) -> Factory:
    """The test's :class:`Factory`, on the backend under test."""
    return Factory(sessions, settings, make_user, make_agency, make_api_key, auth)

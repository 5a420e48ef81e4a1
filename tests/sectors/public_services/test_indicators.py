"""Dossier indicators: overdue count and on-time rate per month for the province, one cell per agency beside the
total, kept current by the real ``dossiers.changed`` event; the IOC's overdue-by-agency layer. Both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.events.models import OutboxEvent
from cityops.identity.agencies import add_jurisdiction, create_agency
from cityops.identity.models import AgencyKind
from cityops.indicators.engine import handle, recompute
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import sync
from cityops.sectors.public_services.dossiers import upsert
from cityops.sectors.public_services.indicators import CODES
from cityops.settings import Settings
from tests.fixtures_areas import LoadedAreas
from tests.indicators.conftest import outbox_events

MARCH = date(2026, 3, 1)
DUE = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)


def dossier(code: str, agency: str, **kw: Any) -> dict[str, Any]:
    row = {
        "code": code,
        "procedure_name": "Đăng ký khai sinh",
        "agency_code": agency,
        "agency_name": agency,
        "status": "4",
        "received_at": (DUE - 72 * H).isoformat(),
        "due_at": DUE.isoformat(),
        "phone": "0912345678",
    }
    row.update(kw)
    return row


def cells(session: Session, code: str, area_id: int) -> dict[int | None, IndicatorValue]:
    rows = session.scalars(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == code,
            IndicatorValue.area_id == area_id,
            IndicatorValue.period_start == MARCH,
        )
    )
    return {r.agency_id: r for r in rows}


def test_overdue_and_on_time_per_agency(
    session: Session, sessions: sessionmaker[Session], settings: Settings, loaded_areas: LoadedAreas
) -> None:
    registry = sync(session)
    a = create_agency(session, code="hs-a", name="UBND phường Long An", kind=AgencyKind.WARD_COMMITTEE)
    b = create_agency(session, code="hs-b", name="Sở Xây dựng", kind=AgencyKind.DEPARTMENT)
    rows = [
        dossier("HS-A1", "hs-a", status="10", returned_at=(DUE - H).isoformat()),  # on time
        dossier("HS-A2", "hs-a", status="10", returned_at=(DUE + 5 * H).isoformat()),  # returned late
        dossier("HS-A3", "hs-a"),  # open past due (the test runs after March 2026)
        dossier("HS-B1", "hs-b", status="5"),  # waiting on the applicant: not judged
        dossier("HS-B2", "hs-b"),  # open past due
        dossier("HS-B3", "hs-b", due_at="2026-04-02T10:00:00+07:00"),  # another month
    ]
    report = upsert(session, rows, secret=settings.secret_key, source="test")
    assert report.rejected == []
    session.commit()
    recompute(session, MARCH, MARCH, CODES, registry)
    session.commit()
    province = loaded_areas.province_id
    overdue = cells(session, "dossiers.overdue", province)
    assert {k: v.value for k, v in overdue.items()} == {None: 3.0, a.id: 2.0, b.id: 1.0}
    assert overdue[None].inputs == 5  # the dossiers due in March
    rate = cells(session, "dossiers.on_time_rate", province)
    assert rate[None].numerator == 1
    assert rate[None].denominator == 4
    assert rate[None].value == 25.0
    assert rate[a.id].value is not None
    assert round(rate[a.id].value, 2) == 33.33
    assert rate[b.id].value == 0.0

    # a push that settles HS-B2 on time: its event names the March due time; the consumer recomputes March
    session.query(OutboxEvent).delete()
    session.commit()
    upsert(
        session,
        [dossier("HS-B2", "hs-b", status="10", returned_at=(DUE - 2 * H).isoformat())],
        secret=settings.secret_key,
        source="test",
    )
    session.commit()
    events = [e for e in outbox_events(session) if e.subject == "dossiers.changed"]
    assert len(events) == 1
    handle(sessions, events[0])
    session.expire_all()
    assert cells(session, "dossiers.overdue", province)[None].value == 2.0
    assert cells(session, "dossiers.on_time_rate", province)[b.id].value == 100.0


def test_overdue_layer_per_agency(
    client: TestClient, session: Session, settings: Settings, loaded_areas: LoadedAreas
) -> None:
    a = create_agency(session, code="hs-a", name="UBND phường Long An", kind=AgencyKind.WARD_COMMITTEE)
    add_jurisdiction(session, a, area_id=loaded_areas.long_an_ward_id, category_code=None)
    b = create_agency(session, code="hs-b", name="Sở Xây dựng", kind=AgencyKind.DEPARTMENT)
    add_jurisdiction(session, b, area_id=loaded_areas.province_id, category_code=None)
    past = datetime.now(UTC) - timedelta(days=2)
    upsert(
        session,
        [
            dossier("HS-L1", "hs-a", received_at=(past - 72 * H).isoformat(), due_at=past.isoformat()),
            dossier(
                "HS-L2",
                "hs-b",
                received_at=(past - 72 * H).isoformat(),
                due_at=(past + 9 * 24 * H).isoformat(),
            ),
        ],
        secret=settings.secret_key,
        source="test",
    )
    session.commit()
    r = client.get("/api/v1/public-services/dossiers/overdue.geojson")
    assert r.status_code == 200
    props = {f["properties"]["agency_code"]: f["properties"] for f in r.json()["features"]}
    assert props["hs-a"]["overdue"] == 1
    assert props["hs-a"]["level"] == "some"
    assert props["hs-b"]["level"] == "none"
    ward = client.get(
        "/api/v1/public-services/dossiers/overdue.geojson", params={"area_id": loaded_areas.long_an_ward_id}
    )
    assert [f["properties"]["agency_code"] for f in ward.json()["features"]] == ["hs-a"]
    unknown = client.get("/api/v1/public-services/dossiers/overdue.geojson", params={"area_id": 999999})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_area"
    panels = client.get("/api/v1/dashboard/panels").json()
    codes = {p["code"] for p in (panels["items"] if isinstance(panels, dict) else panels)}
    assert {"public_services.dossiers", "public_services.overdue_agencies"} <= codes

"""Beds per 10,000 residents from the health places' beds and the population an admin enters (with its source
and year) through the API, which recomputes the per-capita cells; denials and bad entries change nothing."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.indicators.engine import recompute
from cityops.indicators.models import AreaPopulation, IndicatorValue
from cityops.indicators.registry import sync
from tests.fixtures_areas import LoadedAreas
from tests.kit.factories import Factory

YEAR = date(2026, 1, 1)


def beds_cell(session: Session, area_id: int) -> IndicatorValue | None:
    session.expire_all()
    return session.scalars(
        select(IndicatorValue).where(
            IndicatorValue.indicator_code == "health.beds_per_10k",
            IndicatorValue.area_id == area_id,
            IndicatorValue.period_start == YEAR,
            IndicatorValue.agency_id.is_(None),
        )
    ).one_or_none()


def test_beds_per_10k_follow_the_entered_population(
    client: TestClient, session: Session, factory: Factory, loaded_areas: LoadedAreas
) -> None:
    ward = loaded_areas.long_an_ward_id
    registry = sync(session)
    session.commit()
    factory.place("hospital", name="Bệnh viện thử", lat=10.539, lon=106.414, attributes={"beds": 300})
    factory.place("health_station", name="Trạm thử", lat=10.539, lon=106.415, attributes={"beds": 5})
    factory.place("clinic", name="Phòng khám không ghi số giường", lat=10.539, lon=106.416)
    session.commit()
    recompute(session, YEAR, YEAR, ["health.beds_per_10k"], registry)
    session.commit()
    cell = beds_cell(session, ward)
    assert cell is None or cell.value is None  # no population yet: no per-capita value
    admin = factory.headers("admin")
    url = f"/api/v1/areas/{ward}/populations/2026"
    r = client.put(
        url, json={"population": 50_000, "source": "Cục Thống kê tỉnh, niên giám 2026"}, headers=admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "Cục Thống kê tỉnh, niên giám 2026"
    cell = beds_cell(session, ward)
    assert cell is not None
    assert cell.numerator == 305
    assert cell.value == pytest.approx(61.0)  # 305 beds × 10,000 / 50,000
    listed = client.get(f"/api/v1/areas/{ward}/populations")
    assert listed.json()["items"] == [
        {
            "area_id": ward,
            "year": 2026,
            "population": 50_000,
            "source": "Cục Thống kê tỉnh, niên giám 2026",
            "demo": False,
        }
    ]


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 401), ("citizen", 403), ("operator", 403), ("officer", 403)]
)
def test_only_admins_enter_populations(
    client: TestClient, session: Session, factory: Factory, loaded_areas: LoadedAreas, who: str, status: int
) -> None:
    r = client.put(
        f"/api/v1/areas/{loaded_areas.long_an_ward_id}/populations/2026",
        json={"population": 1, "source": "x"},
        headers=factory.headers(who),
    )
    assert r.status_code == status
    assert session.scalars(select(AreaPopulation)).all() == []


@pytest.mark.parametrize(
    ("year", "body", "field"),
    [
        (2026, {"population": 1000, "source": "  "}, "source"),
        (1900, {"population": 1000, "source": "niên giám"}, "year"),
        (2026, {"population": -5, "source": "niên giám"}, None),
        (2026, {"population": 1000}, None),
    ],
)
def test_bad_population_entries_are_422(
    client: TestClient,
    session: Session,
    factory: Factory,
    loaded_areas: LoadedAreas,
    year: int,
    body: dict[str, object],
    field: str | None,
) -> None:
    r = client.put(
        f"/api/v1/areas/{loaded_areas.long_an_ward_id}/populations/{year}",
        json=body,
        headers=factory.headers("admin"),
    )
    assert r.status_code == 422
    if field:
        assert field in str(r.json()["error"]["details"])
    assert session.scalars(select(AreaPopulation)).all() == []


def test_a_former_unit_or_unknown_area_is_refused(
    client: TestClient, factory: Factory, loaded_areas: LoadedAreas
) -> None:
    admin = factory.headers("admin")
    body = {"population": 1000, "source": "niên giám"}
    old = client.put(
        f"/api/v1/areas/{loaded_areas.legacy_long_an_id}/populations/2026", json=body, headers=admin
    )
    assert old.status_code == 422
    assert client.put("/api/v1/areas/999999/populations/2026", json=body, headers=admin).status_code == 404

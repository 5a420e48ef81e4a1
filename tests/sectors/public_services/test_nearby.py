"""Near me: the nearest public facilities by distance, open now from their opening hours, name search without
diacritics, bad input refused, staff-only types never served. Both backends."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.sectors.public_services import opening_hours
from cityops.sectors.public_services.nearby import NearbyQuery, haversine_m, nearby
from tests.kit.factories import Factory

URL = "/api/v1/public-services/nearby"
VN = ZoneInfo("Asia/Ho_Chi_Minh")
TAN_AN = (10.535, 106.413)  # lat, lon: central Tân An


@pytest.fixture
def clinics(factory: Factory) -> dict[str, int]:
    made = {
        "near": factory.place(
            "clinic",
            name="Phòng khám Bình Tâm",
            lat=10.536,
            lon=106.414,
            attributes={"opening_hours": "Mo-Fr 07:00-11:30,13:30-17:00"},
        ),
        "mid": factory.place(
            "clinic",
            name="Phòng khám Khánh Hậu",
            lat=10.518,
            lon=106.376,
            attributes={"opening_hours": "24/7"},
        ),
        "far": factory.place("clinic", name="Phòng khám Bến Lức", lat=10.64, lon=106.49),
        "school": factory.place(
            "school",
            name="Trường THPT Tân An",
            lat=10.5351,
            lon=106.4131,
            attributes={"level": "upper_secondary"},
        ),
    }
    return {k: p.id for k, p in made.items()}


def test_nearest_first_with_distance(client: TestClient, clinics: dict[str, int]) -> None:
    r = client.get(URL, params={"near": f"{TAN_AN[0]},{TAN_AN[1]}", "type": "clinic"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["id"] for i in items] == [clinics["near"], clinics["mid"], clinics["far"]]
    assert items[0]["distance_m"] == round(haversine_m(*TAN_AN, 10.536, 106.414))
    assert all(a["distance_m"] <= b["distance_m"] for a, b in itertools.pairwise(items))
    assert items[0]["type_name_vi"] == "Phòng khám"


def test_several_types_radius_and_limit(client: TestClient, clinics: dict[str, int]) -> None:
    near = f"{TAN_AN[0]},{TAN_AN[1]}"
    both = client.get(URL, params=[("near", near), ("type", "clinic"), ("type", "school"), ("limit", "2")])
    assert [i["id"] for i in both.json()["items"]] == [clinics["school"], clinics["near"]]
    small = client.get(URL, params={"near": near, "type": "clinic", "radius_m": 5000})
    assert {i["id"] for i in small.json()["items"]} == {clinics["near"], clinics["mid"]}


def test_search_ignores_diacritics(client: TestClient, clinics: dict[str, int]) -> None:
    r = client.get(URL, params={"near": f"{TAN_AN[0]},{TAN_AN[1]}", "type": "clinic", "q": "khanh hau"})
    assert [i["id"] for i in r.json()["items"]] == [clinics["mid"]]


def test_open_now_at_a_given_time(session: Session, clinics: dict[str, int]) -> None:
    query = NearbyQuery(TAN_AN[0], TAN_AN[1], ("clinic",), open_now=True)
    lunch = datetime(2026, 12, 8, 12, 0, tzinfo=VN).astimezone(UTC)  # a Tuesday, between the two spans
    morning = datetime(2026, 12, 8, 9, 0, tzinfo=VN).astimezone(UTC)
    assert [i["id"] for i in nearby(session, query, lunch)["items"]] == [clinics["mid"]]
    assert [i["id"] for i in nearby(session, query, morning)["items"]] == [clinics["near"], clinics["mid"]]
    every = nearby(session, NearbyQuery(TAN_AN[0], TAN_AN[1], ("clinic",)), lunch)["items"]
    assert [i["open_now"] for i in every] == [False, True, None]  # the far clinic states no hours


@pytest.mark.parametrize(
    "params",
    [
        {"near": "10.5", "type": "clinic"},
        {"near": "abc,def", "type": "clinic"},
        {"near": "91,106", "type": "clinic"},
        {"near": "10.5,106.4", "type": "no_such_type"},
        {"near": "10.5,106.4", "type": "clinic", "radius_m": "999999"},
        {"near": "10.5,106.4", "type": "clinic", "limit": "0"},
        {"near": "10.5,106.4"},
    ],
)
def test_bad_input_is_422(client: TestClient, params: dict[str, str]) -> None:
    r = client.get(URL, params=params)
    assert r.status_code == 422
    assert "error" in r.json()


def test_staff_only_attributes_are_never_served(client: TestClient, factory: Factory) -> None:
    factory.place(
        "market",
        name="Chợ Tân An",
        lat=10.535,
        lon=106.413,
        attributes={"manager": "Ban quản lý chợ", "manager_phone": "0912345678"},
    )
    r = client.get(
        URL, params={"near": "10.535,106.413", "type": "market"}, headers=factory.headers("operator")
    )
    assert r.status_code == 200
    attributes = r.json()["items"][0]["attributes"]
    assert attributes["manager"] == "Ban quản lý chợ"
    assert "manager_phone" not in attributes  # the citizen's near-me serves public attributes, even to staff
    assert "0912345678" not in r.text


@pytest.mark.parametrize(
    ("hours", "when", "expected"),
    [
        ("Mo-Fr 07:00-17:00", "2026-12-07 08:00", True),  # Monday
        ("Mo-Fr 07:00-17:00", "2026-12-06 08:00", False),  # Sunday
        ("Mo-Fr 07:00-17:00", "2026-12-07 17:00", False),  # the end is exclusive
        ("Mo-Fr 07:00-11:30,13:30-17:00; Sa 07:00-11:30", "2026-12-05 10:00", True),  # Saturday
        ("Mo-Fr 07:00-11:30,13:30-17:00; Sa 07:00-11:30", "2026-12-05 14:00", False),
        ("Tu-Su 07:30-16:30", "2026-12-07 10:00", False),
        ("Mo-Su 17:00-02:00", "2026-12-08 01:30", True),  # past midnight, from the day before
        ("Mo-Fr 07:00-17:00; cấp cứu 24/7", "2026-12-06 03:00", True),
        ("Sa,Su off; Mo-Fr 08:00-12:00", "2026-12-06 09:00", False),
        ("theo lịch hẹn", "2026-12-07 09:00", None),
        ("", "2026-12-07 09:00", None),
    ],
)
def test_opening_hours(hours: str, when: str, expected: bool | None) -> None:
    local = datetime.strptime(when, "%Y-%m-%d %H:%M").replace(tzinfo=VN)
    assert opening_hours.is_open(hours, local) is expected

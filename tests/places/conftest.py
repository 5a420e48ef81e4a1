"""Places fixtures: a test plugin declaring two place types (one public with statuses, one staff-only), and
helpers to build places through the API's service layer.

The test types are ``t_gate`` (public; statuses open/closed; attributes of every kind, one staff-only) and
``t_camera`` (staff-only). Registered for the test only, so the sectors' real types are untouched.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.identity.models import Role, User
from cityops.plugins import hookimpl, plugin_manager
from cityops.specs import AttributeSpec, AttributeType, PlaceTypeSpec, StatusSpec

GATE = PlaceTypeSpec(
    code="t_gate",
    name_vi="Cống thử",
    name_en="Test gate",
    sector="tests",
    icon="gate",
    attributes=(
        AttributeSpec(
            "waterway", "Sông, kênh", "Waterway", AttributeType.STRING, required=True, max_length=50
        ),
        AttributeSpec("width_m", "Bề rộng", "Width", AttributeType.NUMBER, unit="m", minimum=0, maximum=100),
        AttributeSpec("doors", "Số cửa", "Doors", AttributeType.INTEGER, minimum=1, maximum=20),
        AttributeSpec(
            "control",
            "Điều khiển",
            "Control",
            AttributeType.ENUM,
            values=(("manual", "Thủ công", "Manual"), ("remote", "Từ xa", "Remote")),
        ),
        AttributeSpec("automated", "Tự động", "Automated", AttributeType.BOOLEAN),
        AttributeSpec("operator_phone", "Điện thoại", "Phone", AttributeType.PHONE, staff_only=True),
    ),
    statuses=(
        StatusSpec("open", "Mở", "Open"),
        StatusSpec("closed", "Đóng", "Closed"),
    ),
    default_status="open",
    geometry=("Point", "LineString", "Polygon"),
)
CAMERA = PlaceTypeSpec(
    code="t_camera",
    name_vi="Camera thử",
    name_en="Test camera",
    sector="tests",
    visibility="staff",
    attributes=(AttributeSpec("stream", "Luồng", "Stream", AttributeType.URL),),
)


@hookimpl
def place_types() -> list[PlaceTypeSpec]:
    return [GATE, CAMERA]


@pytest.fixture(autouse=True)
def test_place_types() -> Iterator[None]:
    """The test types, declared by a plugin registered for this test only."""
    module = types.ModuleType("tests.places.plugin")
    module.place_types = place_types  # type: ignore[attr-defined]
    pm = plugin_manager()
    pm.register(module, name="tests.places.plugin")
    try:
        yield
    finally:
        pm.unregister(name="tests.places.plugin")


def gate_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "t_gate",
        "name": "Cống Bảo Định",
        "geometry": {"type": "Point", "coordinates": [106.41, 10.535]},
        "attributes": {"waterway": "Kênh Bảo Định", "width_m": 12.5, "operator_phone": "0912 345 678"},
        "source": "test",
        "external_id": "G1",
    }
    body.update(over)
    return body


@pytest.fixture
def operator_headers(
    make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]
) -> dict[str, str]:
    return auth(make_user(Role.OPERATOR))


@pytest.fixture
def citizen_headers(make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]) -> dict[str, str]:
    return auth(make_user(Role.CITIZEN))


@pytest.fixture
def officer_headers(make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]) -> dict[str, str]:
    return auth(make_user(Role.OFFICER))


@pytest.fixture
def make_place(client: TestClient, operator_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """``make_place(**body overrides)`` → the created place's JSON (asserts 201)."""

    def make(**over: Any) -> dict[str, Any]:
        r = client.post("/api/v1/places", json=gate_body(**over), headers=operator_headers)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    return make


def count(session: Session, model: Any) -> int:
    from sqlalchemy import func, select

    return session.scalar(select(func.count()).select_from(model)) or 0

"""The ``map_layer`` panel kind: a sector's GeoJSON layer with its legend, listed by the panel endpoint to
the audience it names (staff layers only to signed-in staff)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.plugins import hookimpl, plugin_manager
from cityops.specs import DashboardPanelSpec, LegendEntry, SpecError
from tests.kit.factories import Factory

NAME = "tests.web.layer_plugin"
LEGEND = (
    LegendEntry("free", "#2e7d32", "Thông thoáng", "Free flow"),
    LegendEntry("jam", "#c62828", "Ùn tắc", "Congested"),
)


class LayerPlugin:
    @hookimpl
    def dashboard_panels(self) -> list[DashboardPanelSpec]:
        return [
            DashboardPanelSpec(
                "test.segments", "Đoạn đường", "Road segments", "test", "map_layer",
                layer_url="/api/v1/test/segments.geojson", style_property="congestion", legend=LEGEND,
                refresh_seconds=60, order=1,
            ),
            DashboardPanelSpec(
                "test.cameras", "Camera", "Cameras", "test", "map_layer", audience="staff",
                layer_url="/api/v1/test/cameras.geojson", default_on=False, order=2,
            ),
        ]  # fmt: skip


@pytest.fixture
def layer_plugin() -> Iterator[None]:
    plugin_manager().register(LayerPlugin(), name=NAME)
    yield
    plugin_manager().unregister(name=NAME)


def _layers(body: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        p["code"]: p for p in body if p["kind"] == "map_layer" and p["sector"] == "test"
    }  # sectors add theirs


def test_public_layers_reach_everyone_staff_layers_only_staff(
    client: TestClient, factory: Factory, layer_plugin: None
) -> None:
    anonymous = client.get("/api/v1/dashboard/panels")
    assert anonymous.status_code == 200
    layers = _layers(anonymous.json())
    assert set(layers) == {"test.segments"}
    seg = layers["test.segments"]
    assert seg["audience"] == "public"
    assert seg["data"] == []
    assert seg["layer"] == {
        "url": "/api/v1/test/segments.geojson",
        "style_property": "congestion",
        "legend": [
            {"value": "free", "colour": "#2e7d32", "label_vi": "Thông thoáng", "label_en": "Free flow"},
            {"value": "jam", "colour": "#c62828", "label_vi": "Ùn tắc", "label_en": "Congested"},
        ],
        "default_on": True,
        "refresh_seconds": 60,
    }
    citizen = client.get("/api/v1/dashboard/panels", headers=factory.headers("citizen"))
    assert set(_layers(citizen.json())) == {"test.segments"}
    for role in ("operator", "officer"):
        staff = client.get("/api/v1/dashboard/panels", headers=factory.headers(role))
        assert staff.status_code == 200
        layers = _layers(staff.json())
        assert set(layers) == {"test.segments", "test.cameras"}
        cams = layers["test.cameras"]
        assert cams["audience"] == "staff"
        assert cams["layer"]["default_on"] is False
        assert cams["layer"]["style_property"] is None
        assert cams["layer"]["legend"] == []


def test_area_scope_is_checked_for_layers_too(client: TestClient, layer_plugin: None) -> None:
    missing = client.get("/api/v1/dashboard/panels", params={"area_id": 999_999})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_area"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"layer_url": "https://tiles.example.org/x.geojson"}, "layer_url must be a path"),
        ({"layer_url": "/api/v1/x.geojson?area_id=1"}, "layer_url must be a path"),
        ({"layer_url": "/api/v1/x.geojson", "refresh_seconds": 3}, "refresh_seconds"),
        ({"layer_url": "/api/v1/x.geojson", "legend": LEGEND}, "needs the style_property"),
        (
            {
                "layer_url": "/api/v1/x.geojson",
                "style_property": "s",
                "legend": (LegendEntry("a", "red", "Đỏ", "Red"),),
            },
            "#rrggbb",
        ),
        ({"layer_url": "/api/v1/x.geojson", "audience": "everyone"}, "audience"),
    ],
)
def test_a_wrong_map_layer_is_refused_when_declared(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        DashboardPanelSpec("bad", "Sai", "Bad", "test", "map_layer", **kw)

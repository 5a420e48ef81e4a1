"""/api/v1/places through the kit's generic API resource test: paging, read, create, update, delete, bad bodies
and permissions per role (reads public, writes for operators and admins)."""

from __future__ import annotations

from typing import Any, ClassVar

from cityops.places.models import Place
from tests.kit.factories import Factory
from tests.kit.resource import ROLES, APIResourceTest
from tests.places.conftest import gate_body

WRITERS = frozenset({"operator", "admin"})


class TestPlaces(APIResourceTest):
    base = "/api/v1/places"
    model = Place
    allowed: ClassVar[dict[str, frozenset[str]]] = {
        "list": frozenset(ROLES),
        "read": frozenset(ROLES),
        "create": WRITERS,
        "update": WRITERS,
        "delete": WRITERS,
    }
    update_body: ClassVar[dict[str, Any]] = {"name": "Cống Rạch Chanh"}
    bad_bodies: ClassVar[tuple[dict[str, Any], ...]] = (
        {},
        {"no_such_field": 1},
        gate_body(geometry={"type": "Point", "coordinates": [500, 10]}),
        gate_body(attributes={"waterway": "x", "width_m": "wide"}),
    )
    bad_update_bodies: ClassVar[tuple[dict[str, Any], ...]] = (
        {"no_such_field": 1},
        {"attributes": {"doors": 0}},
        {"type": "t_camera"},
    )
    _n = 0

    def make(self, factory: Factory) -> int:
        place: Place = factory.place("t_gate", attributes={"waterway": "Kênh Bảo Định"})
        return place.id

    def create_body(self, factory: Factory) -> dict[str, Any]:
        TestPlaces._n += 1
        return gate_body(external_id=f"R{TestPlaces._n}")

    def filters(self, factory: Factory) -> list[tuple[str, set[int], set[int]]]:
        gate = factory.place("t_gate", name="Cống Đồng Khởi", attributes={"waterway": "x"})
        closed = factory.place("t_gate", name="Cống Tân Hòa", attributes={"waterway": "x"}, status="closed")
        far = factory.place("t_gate", name="Cống xa", lon=106.1, lat=11.3, attributes={"waterway": "x"})
        return [
            ("?q=dong khoi", {gate.id}, {closed.id, far.id}),
            ("?status=closed", {closed.id}, {gate.id}),
            ("?bbox=106.0,11.2,106.2,11.4", {far.id}, {gate.id, closed.id}),
            ("?type=t_gate", {gate.id, closed.id, far.id}, set()),
        ]

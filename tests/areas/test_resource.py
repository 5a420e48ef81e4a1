"""Areas are public, read-only reference data: the kit's generic API resource test, reads only."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from cityops.areas.models import Area
from tests.kit.factories import Factory
from tests.kit.resource import ROLES, APIResourceTest


class TestAreas(APIResourceTest):
    base = "/api/v1/areas"
    model = Area
    allowed: ClassVar[dict[str, frozenset[str]]] = {"list": frozenset(ROLES), "read": frozenset(ROLES)}

    def make(self, factory: Factory) -> int:
        return factory.area().id

    def filters(self, factory: Factory) -> list[tuple[str, set[int], set[int]]]:
        province = factory.area("Tỉnh Thử", level="province")
        ward = factory.area("Phường Khánh Hậu", parent=province)
        other = factory.area("Xã Lợi Bình Nhơn")
        ended = factory.area("Phường 1", valid_to=date(2025, 7, 1))
        return [
            ("?q=khanh hau", {ward.id}, {other.id, province.id}),
            ("?level=province", {province.id}, {ward.id, other.id}),
            (f"?parent_id={province.id}", {ward.id}, {other.id}),
            ("?q=phuong 1", set(), {ended.id}),  # ended units only with historical=true
            ("?q=phuong 1&historical=true", {ended.id}, {ward.id}),
        ]

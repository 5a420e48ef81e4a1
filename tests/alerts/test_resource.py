"""Alert rules (admin CRUD, read by the IOC) under the kit's generic API resource test."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from cityops.alerts.models import Rule
from tests.kit.factories import Factory
from tests.kit.resource import APIResourceTest

IOC = frozenset({"supervisor", "operator", "admin"})
ADMIN = frozenset({"admin"})
_n = itertools.count(1)


class TestAlertRules(APIResourceTest):
    base = "/api/v1/alert-rules"
    model = Rule
    allowed: ClassVar[dict[str, frozenset[str]]] = {
        "list": IOC,
        "read": IOC,
        "create": ADMIN,
        "update": ADMIN,
        "delete": ADMIN,
    }
    paged = False  # every rule at once (see the kit's report)
    update_body: ClassVar[dict[str, Any]] = {"name_vi": "Độ mặn cao", "enabled": False, "area_ids": []}
    bad_bodies = (
        {},
        {
            "name_vi": "x",
            "kind": "threshold",
            "parameters": {},
            "property_code": "salinity",
            "no_such_field": 1,
        },
        {
            "name_vi": "x",
            "kind": "threshold",
            "parameters": {"direction": "sideways"},
            "property_code": "salinity",
        },
        {"name_vi": "x", "kind": "threshold", "parameters": {"levels": []}},  # no target
        {"name_vi": "x", "kind": "guess", "parameters": {}, "property_code": "salinity"},
    )
    bad_update_bodies = ({"no_such_field": 1}, {"parameters": {"direction": "sideways"}}, {"enabled": "no"})

    def make(self, factory: Factory) -> int:
        return factory.alert_rule(code=f"kit-rule-{next(_n)}").id

    def create_body(self, factory: Factory) -> dict[str, Any]:
        return {
            "code": f"do-man-{next(_n)}",
            "name_vi": "Độ mặn vượt ngưỡng lúa",
            "name_en": "Salinity above the rice threshold",
            "kind": "threshold",
            "property_code": "salinity",
            "parameters": {
                "direction": "above",
                "levels": [{"severity": "warning", "value": 4.0, "clear": 3.5}],
                "min_duration_s": 1800,
            },
        }

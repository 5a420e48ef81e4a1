"""The identity admin resources (agencies, users, API keys) under the kit's generic API resource test."""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from cityops.identity.models import Agency, AgencyKind, ApiKey, Role, User
from tests.kit.factories import Factory
from tests.kit.resource import ROLES, APIResourceTest

EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
_n = itertools.count(1)


class TestAgencies(APIResourceTest):
    base = "/api/v1/agencies"
    model = Agency
    allowed: ClassVar[dict[str, frozenset[str]]] = {
        "list": EVERYONE,
        "read": EVERYONE,
        "create": ADMIN,
        "update": ADMIN,
    }
    paged = False  # the agency list has no limit/offset (see the kit's report)
    update_body: ClassVar[dict[str, Any]] = {
        "name": "Ủy ban nhân dân phường Tân An",
        "kind": "ward_committee",
    }
    bad_bodies = (
        {},
        {"code": "x", "name": "y", "no_such_field": 1},
        {"code": "", "name": "y"},
        {"code": 7, "name": "y"},
    )
    bad_update_bodies = (
        {"no_such_field": 1},
        {"name": ""},
        {"kind": "no-such-kind"},
    )

    def make(self, factory: Factory) -> int:
        return factory.agency().id

    def create_body(self, factory: Factory) -> dict[str, Any]:
        return {"code": f"so-thu-{next(_n)}", "name": "Sở Thử nghiệm", "kind": "department"}

    def filters(self, factory: Factory) -> list[tuple[str, set[int], set[int]]]:
        police = factory.agency(name="Công an phường Tân An", kind=AgencyKind.POLICE)
        ward = factory.agency(name="UBND phường Khánh Hậu")
        return [
            ("?q=cong an tan", {police.id}, {ward.id}),  # diacritics ignored
            ("?q=Khánh Hậu", {ward.id}, {police.id}),
            (f"?kind={AgencyKind.POLICE.value}", {police.id}, {ward.id}),
        ]


class TestUsers(APIResourceTest):
    base = "/api/v1/users"
    model = User
    allowed: ClassVar[dict[str, frozenset[str]]] = {
        "list": ADMIN,
        "read": ADMIN,
        "create": ADMIN,
        "update": ADMIN,
    }
    update_body: ClassVar[dict[str, Any]] = {"full_name": "Nguyễn Thị Hoa", "is_active": False}
    bad_bodies = (
        {},
        {"role": "emperor", "username": "x"},
        {"role": "citizen", "username": "x", "no_such_field": 1},
    )
    bad_update_bodies = (
        {"no_such_field": 1},
        {"role": "emperor"},
        {"is_active": "yes"},
    )

    def make(self, factory: Factory) -> int:
        return factory.user(Role.CITIZEN).id

    def create_body(self, factory: Factory) -> dict[str, Any]:
        return {
            "role": "officer",
            "username": f"canbo{next(_n)}",
            "full_name": "Trần Văn Bình",
            "password": "mật khẩu dài đủ 12",
        }

    def filters(self, factory: Factory) -> list[tuple[str, set[int], set[int]]]:
        agency = factory.agency()
        officer = factory.user(Role.OFFICER, agency, full_name="Lê Văn Định")
        citizen = factory.user(Role.CITIZEN, full_name="Phạm Thị Lan")
        return [
            ("?role=officer", {officer.id}, {citizen.id}),
            (f"?agency_id={agency.id}", {officer.id}, {citizen.id}),
            ("?q=dinh", {officer.id}, {citizen.id}),
        ]


class TestApiKeys(APIResourceTest):
    base = "/api/v1/keys"
    model = ApiKey
    allowed: ClassVar[dict[str, frozenset[str]]] = {
        "list": ADMIN,
        "create": ADMIN,
        "delete": ADMIN,
    }  # no read or update route; delete revokes
    paged = False
    bad_bodies = (
        {},
        {"name": "k", "scopes": []},
        {"name": "k", "scopes": ["no-such-scope"]},
        {"name": "k", "scopes": ["read"], "thing_id": "1"},
    )

    def make(self, factory: Factory) -> int:
        factory.api_key(name=f"khoá {next(_n)}")
        with factory.sessions() as s:
            return max(k.id for k in s.query(ApiKey))

    def create_body(self, factory: Factory) -> dict[str, Any]:
        return {"name": f"trạm đo {next(_n)}", "scopes": ["ingest"]}

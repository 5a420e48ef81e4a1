"""The generic API resource test case: a resource's test only declares it (NetBox's ``APIViewTestCases``).

Subclass :class:`APIResourceTest` in a class named ``Test...``, set the class attributes and override
:meth:`~APIResourceTest.make` (and :meth:`~APIResourceTest.create_body` / :meth:`~APIResourceTest.filters`
where the resource has them). Every ``test_*`` method then runs on both backends, through the ``client``
and ``factory`` fixtures. What is checked, with exact status codes:

* list: the made rows are listed; ``limit``/``offset`` pages are slices of the whole list; a bad
  ``limit`` is a 422 in the native error shape;
* read: 200 with the row; an unknown id is a 404 in the native error shape (for every item method);
* create / update / delete: 201 / 200 / 204, the change is audited, and an operation the resource does
  not have answers 405; after a delete the row is gone (404, or no longer listed);
* a bad body: a 422 in the native error shape, and no row and no audit entry changed;
* permissions: per operation, every role in :attr:`~APIResourceTest.allowed` succeeds and every other
  role is refused: 401 anonymous, 403 signed in (``denied`` overrides per role).

See tests/kit/README.md for a worked example.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from cityops.audit.models import AuditEntry
from cityops.paging import MAX_LIMIT
from tests.kit.factories import Factory

ROLES = ("anonymous", "citizen", "officer", "supervisor", "operator", "admin")
OPERATIONS = ("list", "read", "create", "update", "delete")
UNKNOWN_ID = 987_654_321


def assert_native_error(response: Response, status: int) -> dict[str, Any]:
    """``response`` is ``status`` with the native body ``{"error": {"code", "message"[, "details"]}}``."""
    assert response.status_code == status, (status, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error.get("code"), str), error
    assert error["code"], error
    assert isinstance(error.get("message"), str), error
    assert error["message"], error
    assert set(error) <= {"code", "message", "details"}, error
    return dict(error)


def listed(body: Any) -> list[dict[str, Any]]:
    """The rows of a list answer: a bare JSON list or a page's ``items``."""
    rows = body if isinstance(body, list) else body["items"]
    assert isinstance(rows, list), body
    return rows


class APIResourceTest:
    """Declare a resource; the ``test_*`` methods test it (see the module docstring)."""

    base: ClassVar[str]  # "/api/v1/agencies"; items live at f"{base}/{id}"
    model: ClassVar[type[Any]]  # the ORM class, to check that a refused write changed nothing
    # operation -> roles that may do it; an operation that is missing is not offered (405)
    allowed: ClassVar[dict[str, frozenset[str]]]
    denied: ClassVar[dict[str, int]] = {}  # role -> status when refused, if not 401/403
    paged: ClassVar[bool] = True  # the list takes limit/offset (cityops.paging)
    item_route: ClassVar[bool] = True  # some method is routed at {base}/{id} (else a missing one is 404)
    update_body: ClassVar[dict[str, Any]] = {}
    bad_bodies: ClassVar[tuple[dict[str, Any], ...]] = ({}, {"no_such_field": 1})
    bad_update_bodies: ClassVar[tuple[dict[str, Any], ...]] = ({"no_such_field": 1},)
    audited: ClassVar[bool] = True
    status: ClassVar[dict[str, int]] = {"list": 200, "read": 200, "create": 201, "update": 200, "delete": 204}

    # --- what a resource test overrides -------------------------------------------------------------

    def make(self, factory: Factory) -> int:
        """Create one valid row through the factories; return its id."""
        raise NotImplementedError

    def create_body(self, factory: Factory) -> dict[str, Any]:
        """A valid create body, different on every call (unique codes)."""
        raise NotImplementedError

    def filters(self, factory: Factory) -> list[tuple[str, set[int], set[int]]]:
        """``(query string, ids it must list, ids it must not list)`` for each filter to check."""
        return []

    # --- helpers ------------------------------------------------------------------------------------

    def url(self, item_id: int | None = None) -> str:
        return self.base if item_id is None else f"{self.base}/{item_id}"

    def who(self, op: str) -> str:
        """A role allowed to do ``op`` (the admin when it may, for the least surprise)."""
        roles = self.allowed[op]
        return "admin" if "admin" in roles else sorted(roles)[0]

    def ids(self, client: TestClient, factory: Factory, query: str = "") -> list[int]:
        r = client.get(self.base + query, headers=factory.headers(self.who("list")))
        assert r.status_code == self.status["list"], r.text
        return [row["id"] for row in listed(r.json())]

    def counts(self, factory: Factory) -> tuple[int, int]:
        """Rows of the resource's table and of the audit log, to prove a refused write changed nothing."""
        with factory.sessions() as s:
            rows = s.scalar(select(func.count()).select_from(self.model)) or 0
            audit = s.scalar(select(func.count()).select_from(AuditEntry)) or 0
            return rows, audit

    def request(self, client: TestClient, factory: Factory, op: str, role: str) -> Response:
        """Do ``op`` as ``role`` on a fresh row (or a fresh body)."""
        headers = factory.headers(role)
        response: Response
        if op == "list":
            response = client.get(self.base, headers=headers)
        elif op == "create":
            response = client.post(self.base, json=self.create_body(factory), headers=headers)
        else:
            item = self.url(self.make(factory))
            if op == "read":
                response = client.get(item, headers=headers)
            elif op == "update":
                response = client.patch(item, json=self.update_body, headers=headers)
            else:
                response = client.delete(item, headers=headers)
        return response

    def assert_audited(self, factory: Factory, before: tuple[int, int]) -> None:
        if self.audited:
            assert self.counts(factory)[1] > before[1], "the change left no audit entry"

    # --- the tests ----------------------------------------------------------------------------------

    def test_list(self, client: TestClient, factory: Factory) -> None:
        made = [self.make(factory) for _ in range(3)]
        everything = self.ids(client, factory, f"?limit={MAX_LIMIT}" if self.paged else "")
        assert set(made) <= set(everything)
        assert len(everything) == len(set(everything)), "a row is listed twice"
        if not self.paged:
            return
        assert self.ids(client, factory, "?limit=2") == everything[:2]
        assert self.ids(client, factory, "?limit=2&offset=2") == everything[2:4]
        headers = factory.headers(self.who("list"))
        for bad in ("?limit=0", f"?limit={MAX_LIMIT + 1}", "?offset=-1", "?limit=abc"):
            assert_native_error(client.get(self.base + bad, headers=headers), 422)

    def test_filters(self, client: TestClient, factory: Factory) -> None:
        for query, wanted, unwanted in self.filters(factory):
            found = set(self.ids(client, factory, query))
            assert wanted <= found, (query, wanted, found)
            assert not unwanted & found, (query, unwanted, found)

    def test_read(self, client: TestClient, factory: Factory) -> None:
        item_id = self.make(factory)
        headers = factory.headers(self.who("list"))
        if "read" not in self.allowed:
            expected = 405 if self.item_route else 404
            assert_native_error(client.get(self.url(item_id), headers=headers), expected)
            return
        r = client.get(self.url(item_id), headers=factory.headers(self.who("read")))
        assert r.status_code == self.status["read"], r.text
        assert r.json()["id"] == item_id

    def test_unknown_id_is_404(self, client: TestClient, factory: Factory) -> None:
        url = self.url(UNKNOWN_ID)
        for op, call in (("read", client.get), ("delete", client.delete)):
            if op in self.allowed:
                assert_native_error(call(url, headers=factory.headers(self.who(op))), 404)
        if "update" in self.allowed:
            r = client.patch(url, json=self.update_body, headers=factory.headers(self.who("update")))
            assert_native_error(r, 404)

    def test_create(self, client: TestClient, factory: Factory) -> None:
        if "create" not in self.allowed:
            headers = factory.headers("admin")
            before = self.counts(factory)
            assert_native_error(client.post(self.base, json={}, headers=headers), 405)
            assert self.counts(factory) == before
            return
        headers = factory.headers(self.who("create"))  # before counting: it may make the user
        body = self.create_body(factory)
        before = self.counts(factory)
        r = client.post(self.base, json=body, headers=headers)
        assert r.status_code == self.status["create"], r.text
        assert self.counts(factory)[0] == before[0] + 1
        self.assert_audited(factory, before)
        assert r.json()["id"] in self.ids(client, factory, f"?limit={MAX_LIMIT}" if self.paged else "")

    def test_bad_body_changes_nothing(self, client: TestClient, factory: Factory) -> None:
        if "create" in self.allowed:
            headers = factory.headers(self.who("create"))
            for body in self.bad_bodies:
                before = self.counts(factory)
                assert_native_error(client.post(self.base, json=body, headers=headers), 422)
                assert self.counts(factory) == before, body
        if "update" in self.allowed:
            item = self.url(self.make(factory))
            headers = factory.headers(self.who("update"))
            read_headers = factory.headers(self.who("read")) if "read" in self.allowed else None
            shown = client.get(item, headers=read_headers).json() if read_headers is not None else None
            for body in self.bad_update_bodies:
                before = self.counts(factory)
                assert_native_error(client.patch(item, json=body, headers=headers), 422)
                assert self.counts(factory) == before, body
                if read_headers is not None:
                    assert client.get(item, headers=read_headers).json() == shown, body

    def test_update(self, client: TestClient, factory: Factory) -> None:
        item = self.url(self.make(factory))
        if "update" not in self.allowed:
            expected = 405 if self.item_route else 404
            assert_native_error(client.patch(item, json={}, headers=factory.headers("admin")), expected)
            return
        headers = factory.headers(self.who("update"))
        before = self.counts(factory)
        r = client.patch(item, json=self.update_body, headers=headers)
        assert r.status_code == self.status["update"], r.text
        for key, value in self.update_body.items():
            assert r.json()[key] == value, (key, r.json())
        self.assert_audited(factory, before)

    def test_delete(self, client: TestClient, factory: Factory) -> None:
        item_id = self.make(factory)
        if "delete" not in self.allowed:
            expected = 405 if self.item_route else 404
            assert_native_error(client.delete(self.url(item_id), headers=factory.headers("admin")), expected)
            return
        headers = factory.headers(self.who("delete"))
        before = self.counts(factory)
        r = client.delete(self.url(item_id), headers=headers)
        assert r.status_code == self.status["delete"], r.text
        assert r.content == b""
        self.assert_audited(factory, before)
        if "read" in self.allowed:
            assert_native_error(client.get(self.url(item_id), headers=factory.headers(self.who("read"))), 404)
        assert item_id not in self.ids(client, factory, f"?limit={MAX_LIMIT}" if self.paged else "")

    def test_permissions(self, client: TestClient, factory: Factory) -> None:
        for op in OPERATIONS:
            if op not in self.allowed:
                continue
            for role in ROLES:
                r = self.request(client, factory, op, role)
                if role in self.allowed[op]:
                    assert r.status_code == self.status[op], (op, role, r.text)
                else:
                    refused = self.denied.get(role, 401 if role == "anonymous" else 403)
                    assert_native_error(r, refused)

"""List endpoints issue a fixed number of queries however many rows they return (no N+1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from cityops.identity.models import Agency, Role, User
from tests.fixtures_areas import LoadedAreas


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def queries_for(client: TestClient, url: str, headers: dict[str, str] | None = None) -> int:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    with counting(engine) as statements:
        r = client.get(url, headers=headers or {})
        assert r.status_code == 200, r.text
    return len(statements)


def test_agency_list_query_count_is_pinned(
    client: TestClient, make_agency: Callable[..., Agency], loaded_areas: LoadedAreas
) -> None:
    make_agency(area_id=loaded_areas.tan_an_ward_id)
    few = queries_for(client, "/api/v1/agencies")
    for _ in range(5):
        make_agency(area_id=loaded_areas.khanh_hau_ward_id, categories=["roads", "lighting"])
    assert queries_for(client, "/api/v1/agencies") == few <= 2


def test_user_list_query_count_is_pinned(
    client: TestClient,
    make_user: Callable[..., User],
    make_agency: Callable[..., Agency],
    admin_headers: dict[str, str],
) -> None:
    few = queries_for(client, "/api/v1/users", admin_headers)
    agency = make_agency()
    for _ in range(5):
        make_user(Role.OFFICER, agency=agency)
    assert queries_for(client, "/api/v1/users", admin_headers) == few

"""List endpoints issue a fixed number of queries however many rows they return (no N+1).

The pins of every list live in tests/test_query_counts.py; these two add the cases it does not build:
agencies with several jurisdictions and categories each, users with memberships.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from cityops.identity.models import Agency, Role, User
from tests.fixtures_areas import LoadedAreas
from tests.kit.queries import get_counted


def queries_for(client: TestClient, url: str, headers: dict[str, str] | None = None) -> int:
    return get_counted(client, url, headers)[1].count


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

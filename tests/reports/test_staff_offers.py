"""What the officer workspace offers on a case: the state machine's actions this user may take, the agency's
staff to assign to, and an officer who works an acknowledged case to its resolution without a supervisor."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.reports.conftest import World
from tests.reports.test_api import bearer, report_body


def _case(client: TestClient, world: World) -> str:
    """A lighting report in ward A (its committee handles it)."""
    created = client.post("/api/v1/reports", json=report_body(category="lighting", answers={}))
    assert created.status_code == 201
    ref: str = created.json()["ref"]
    return ref


def _act(client: TestClient, headers: dict[str, str], ref: str, **body: object) -> dict[str, object]:
    res = client.post(f"/api/v1/reports/cases/{ref}/actions", json=body, headers=headers)
    assert res.status_code == 200, res.text
    data: dict[str, object] = res.json()
    return data


def test_officer_acknowledges_starts_and_resolves_and_becomes_the_assignee(
    client: TestClient, world: World
) -> None:
    ref = _case(client, world)
    officer = bearer(world, "officer_a")
    detail = client.get(f"/api/v1/reports/cases/{ref}", headers=officer).json()
    # an officer is never offered what only a supervisor may do, nor anything the state does not allow
    assert detail["allowed_actions"] == ["acknowledge", "reject", "transfer", "return"]
    assert "assignees" not in detail
    after_ack = _act(client, officer, ref, action="acknowledge")
    assert after_ack["allowed_actions"] == ["start", "reject", "transfer", "return", "add_support"]
    started = _act(client, officer, ref, action="start")
    assert started["state"] == "in_progress"
    assert started["assignee_id"] == world.users["officer_a"].id
    assert "resolve" in started["allowed_actions"]
    done = _act(client, officer, ref, action="resolve", comment="Đã thay bóng đèn")
    assert done["state"] == "resolved"
    assert done["allowed_actions"] == ["close", "reopen"]


def test_supervisor_is_offered_assignment_to_the_agency_staff(client: TestClient, world: World) -> None:
    ref = _case(client, world)
    supervisor = bearer(world, "supervisor_a")
    detail = _act(client, supervisor, ref, action="acknowledge")
    assert "assign" in detail["allowed_actions"]
    names = {a["name"]: a["role"] for a in detail["assignees"]}  # type: ignore[attr-defined]
    # the lead agency's officers and supervisors, nobody from another agency, no operator or admin
    assert set(names) == {"Officer_A", "Officer_A2", "Supervisor_A"}
    target = world.users["officer_a2"].id
    assigned = _act(client, supervisor, ref, action="assign", assignee_id=target)
    assert assigned["assignee_id"] == target
    # the assignee starts: the assignment stays theirs
    started = _act(client, bearer(world, "officer_a2"), ref, action="start")
    assert started["assignee_id"] == target


def test_an_operator_starting_a_case_does_not_become_its_assignee(client: TestClient, world: World) -> None:
    ref = _case(client, world)
    operator = bearer(world, "operator")
    _act(client, operator, ref, action="acknowledge")
    started = _act(client, operator, ref, action="start")
    assert started["state"] == "in_progress"
    assert started["assignee_id"] is None

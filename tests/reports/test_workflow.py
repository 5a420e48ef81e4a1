"""The case state machine: every allowed transition, a set of forbidden ones, permissions, requirements."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cityops.audit.models import AuditEntry
from cityops.errors import Conflict, Forbidden, Invalid
from cityops.identity.policy import Principal
from cityops.media.store import store_upload
from cityops.media.uploads import record_upload
from cityops.reports.access import Actor
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import Case, CaseAgency, CaseEvent, CaseExtension, CaseMedia
from cityops.reports.workflow import TRANSITIONS, CaseAction, State, allowed_actions, target_state
from tests.reports.conftest import MONDAY_9, World, jpeg_bytes

A = CaseAction


def _do(world: World, case: Case, who: str, action: CaseAction, **kw: object) -> Case:
    result = perform(
        world.session,
        world.settings,
        world.actor(who),
        case,
        ActionRequest(action, **kw),
        now=MONDAY_9 + timedelta(hours=1),
    )  # type: ignore[arg-type]
    world.session.commit()
    return result


def _to_state(world: World, state: State) -> Case:
    """A case of ward A brought into ``state`` through legal transitions."""
    case = world.submit()
    assert case.agency_id == world.ward_a_committee.id
    path: dict[State, list[tuple[str, CaseAction, dict[str, object]]]] = {
        State.SUBMITTED: [],
        State.ACKNOWLEDGED: [("officer_a", A.ACKNOWLEDGE, {})],
        State.ASSIGNED: [
            ("officer_a", A.ACKNOWLEDGE, {}),
            ("supervisor_a", A.ASSIGN, {"assignee_id": world.users["officer_a"].id}),
        ],
    }
    path[State.IN_PROGRESS] = [*path[State.ASSIGNED], ("officer_a", A.START, {})]
    path[State.RESOLVED] = [
        *path[State.IN_PROGRESS],
        ("officer_a", A.RESOLVE, {"comment": "Đã thay bóng đèn"}),
    ]
    path[State.CLOSED] = [*path[State.RESOLVED], ("officer_a", A.CLOSE, {"comment": "Hoàn tất"})]
    path[State.REJECTED] = [
        ("officer_a", A.REJECT, {"reason": "out_of_scope", "comment": "Không thuộc thẩm quyền"})
    ]
    path[State.REOPENED] = [*path[State.RESOLVED], ("officer_a", A.REOPEN, {"comment": "Vẫn còn hỏng"})]
    for who, action, kw in path[state]:
        _do(world, case, who, action, **kw)
    assert case.state == state.value
    return case


def _params(world: World, case: Case, action: CaseAction) -> tuple[str, dict[str, object]]:
    """Who performs ``action`` and with which parameters, so that only the state decides."""
    if action is A.ASSIGN:
        return "supervisor_a", {"assignee_id": world.users["officer_a2"].id}
    if action is A.REJECT:
        return "officer_a", {"reason": "insufficient_information", "comment": "Thiếu thông tin"}
    if action in (A.TRANSFER,):
        return "officer_a", {"agency_id": world.transport.id, "comment": "Chuyển Sở"}
    if action is A.ADD_SUPPORT:
        return "officer_a", {"agency_id": world.transport.id}
    if action is A.REQUEST_EXTENSION:
        return "officer_a", {"hours": 8.0, "comment": "Chờ vật tư"}
    if action is A.DECIDE_EXTENSION:
        world.session.add(CaseExtension(case_id=case.id, hours=4.0, reason="x", requested_at=MONDAY_9))
        world.session.commit()
        ext = world.session.scalar(select(CaseExtension).where(CaseExtension.case_id == case.id))
        assert ext is not None
        return "supervisor_a", {"extension_id": ext.id, "approve": True}
    if action is A.MERGE:
        master = world.submit(description="bản gốc")
        return "supervisor_a", {"master_id": master.id}
    return "officer_a", {"comment": f"{action.value} bình luận"}


ALL_PAIRS = [(s, a) for s in State for a in CaseAction]


@pytest.mark.parametrize(("state", "action"), [p for p in ALL_PAIRS if p[0] in TRANSITIONS[p[1]].sources])
def test_every_allowed_transition(world: World, state: State, action: CaseAction) -> None:
    case = _to_state(world, state)
    who, kw = _params(world, case, action)
    events_before = world.session.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()).limit(1))
    _do(world, case, who, action, **kw)
    assert case.state == target_state(state, action).value
    last = world.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())
    ).first()
    assert last is not None
    assert last.id != events_before
    assert last.action == action.value
    assert last.from_state == state.value
    audits = world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == f"case.{action.value}")
    ).all()
    assert any(a.target_id == str(case.id) for a in audits)


FORBIDDEN = [
    (State.SUBMITTED, A.START),
    (State.SUBMITTED, A.RESOLVE),
    (State.SUBMITTED, A.CLOSE),
    (State.SUBMITTED, A.REOPEN),
    (State.ACKNOWLEDGED, A.RESOLVE),
    (State.ACKNOWLEDGED, A.ACKNOWLEDGE),
    (State.ASSIGNED, A.CLOSE),
    (State.IN_PROGRESS, A.ACKNOWLEDGE),
    (State.IN_PROGRESS, A.CLOSE),
    (State.RESOLVED, A.START),
    (State.RESOLVED, A.REJECT),
    (State.RESOLVED, A.TRANSFER),
    (State.CLOSED, A.RESOLVE),
    (State.CLOSED, A.ASSIGN),
    (State.REJECTED, A.REOPEN),
    (State.REJECTED, A.ACKNOWLEDGE),
    (State.REJECTED, A.MERGE),
    (State.REOPENED, A.CLOSE),
]


@pytest.mark.parametrize(("state", "action"), FORBIDDEN)
def test_forbidden_transitions_are_409_listing_allowed(
    world: World, state: State, action: CaseAction
) -> None:
    assert (state, action) in [p for p in ALL_PAIRS if p[0] not in TRANSITIONS[p[1]].sources]
    case = _to_state(world, state)
    who, kw = _params(world, case, action)
    count = len(world.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all())
    with pytest.raises(Conflict) as info:
        _do(world, case, who, action, **kw)
    world.session.rollback()
    assert info.value.details["allowed"] == [a.value for a in allowed_actions(state)]
    assert state.value in info.value.message
    world.session.refresh(case)
    assert case.state == state.value
    assert len(world.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()) == count


def test_other_agency_and_citizen_and_admin_cannot_act(world: World) -> None:
    case = world.submit()
    for who in ("officer_b", "citizen", "admin", "officer_t"):
        with pytest.raises(Forbidden):
            _do(world, case, who, A.ACKNOWLEDGE)
        world.session.rollback()
    with pytest.raises(Forbidden):
        perform(
            world.session, world.settings, Actor(Principal.anonymous()), case, ActionRequest(A.ACKNOWLEDGE)
        )
    _do(world, case, "operator", A.ACKNOWLEDGE)
    assert case.state == "acknowledged"


def test_only_a_supervisor_assigns_and_decides_extensions(world: World) -> None:
    case = _to_state(world, State.ACKNOWLEDGED)
    with pytest.raises(Forbidden):
        _do(world, case, "officer_a", A.ASSIGN, assignee_id=world.users["officer_a"].id)
    world.session.rollback()
    with pytest.raises(Invalid):  # the assignee must work for the lead agency
        _do(world, case, "supervisor_a", A.ASSIGN, assignee_id=world.users["officer_b"].id)
    world.session.rollback()
    _do(world, case, "supervisor_a", A.ASSIGN, assignee_id=world.users["officer_a"].id)
    _do(world, case, "officer_a", A.REQUEST_EXTENSION, hours=16.0, comment="Chờ vật tư")
    with pytest.raises(Conflict):  # one pending request at a time
        _do(world, case, "officer_a", A.REQUEST_EXTENSION, hours=4.0, comment="nữa")
    world.session.rollback()
    ext = world.session.scalar(select(CaseExtension).where(CaseExtension.case_id == case.id))
    assert ext is not None
    with pytest.raises(Forbidden):
        _do(world, case, "officer_a", A.DECIDE_EXTENSION, extension_id=ext.id, approve=True)
    world.session.rollback()
    due_before = case.resolve_due_at
    assert due_before is not None
    _do(world, case, "supervisor_a", A.DECIDE_EXTENSION, extension_id=ext.id, approve=True, comment="Đồng ý")
    assert case.resolve_due_at is not None
    assert case.resolve_due_at > due_before
    assert case.extended_hours == 16.0
    with pytest.raises(Conflict):
        _do(world, case, "supervisor_a", A.DECIDE_EXTENSION, extension_id=ext.id, approve=False)


def test_requirements_comment_reason_proof(world: World) -> None:
    case = _to_state(world, State.IN_PROGRESS)
    with pytest.raises(Invalid, match="after-photo or a written reason"):
        _do(world, case, "officer_a", A.RESOLVE)
    world.session.rollback()
    photo = store_upload(world.settings, world.session, jpeg_bytes(), "after.jpg", "image/jpeg").item
    record_upload(world.session, photo.id, world.actor("officer_a").label, None)  # the resolver's own photo
    _do(world, case, "officer_a", A.RESOLVE, after_media=[photo.id])
    assert world.session.scalar(select(CaseMedia.role).where(CaseMedia.case_id == case.id)) == "after"
    with pytest.raises(Invalid, match="comment is required"):
        _do(world, case, "officer_a", A.CLOSE)
    world.session.rollback()
    other = world.submit()
    with pytest.raises(Invalid, match="reason must be one of"):
        _do(world, other, "officer_a", A.REJECT, comment="không rõ")
    world.session.rollback()
    with pytest.raises(Invalid, match="comment is required"):
        _do(world, other, "officer_a", A.REJECT, reason="out_of_scope")
    world.session.rollback()
    assert other.state == "submitted"


def test_transfer_return_and_joint_handling(world: World) -> None:
    case = _to_state(world, State.ASSIGNED)
    _do(
        world,
        case,
        "officer_a",
        A.TRANSFER,
        agency_id=world.ward_b_committee.id,
        comment="Thuộc phường Tân An",
    )
    assert case.agency_id == world.ward_b_committee.id
    assert case.assignee_id is None
    assert case.state == "submitted"
    with pytest.raises(Forbidden):  # ward A no longer holds it
        _do(world, case, "officer_a", A.ACKNOWLEDGE)
    world.session.rollback()
    _do(world, case, "officer_b", A.RETURN, comment="Không phải của chúng tôi")
    assert case.agency_id is None
    assert case.state == "submitted"
    with pytest.raises(Forbidden):
        _do(world, case, "officer_b", A.ACKNOWLEDGE)
    world.session.rollback()
    _do(world, case, "operator", A.ACKNOWLEDGE)
    with pytest.raises(Conflict, match="Route the case"):  # the dispatcher must route before assigning
        _do(world, case, "operator", A.ASSIGN, assignee_id=world.users["officer_a"].id)
    world.session.rollback()
    world.session.refresh(case)
    _do(
        world,
        case,
        "operator",
        A.TRANSFER,
        agency_id=world.ward_a_committee.id,
        comment="Giao lại phường Long An",
    )
    _do(world, case, "officer_a", A.ACKNOWLEDGE)
    _do(world, case, "officer_a", A.ADD_SUPPORT, agency_id=world.transport.id)
    assert world.session.get(CaseAgency, (case.id, world.transport.id)) is not None
    with pytest.raises(Conflict):
        _do(world, case, "officer_a", A.ADD_SUPPORT, agency_id=world.transport.id)
    world.session.rollback()
    internal = world.session.scalars(
        select(CaseEvent).where(
            CaseEvent.case_id == case.id, CaseEvent.action.in_(["transfer", "return", "add_support"])
        )
    ).all()
    assert internal
    assert not any(e.public for e in internal)


def test_reporter_reopens_within_window_only(world: World) -> None:
    citizen = world.actor("citizen")
    case = world.submit(actor=citizen)
    for who, action, kw in [
        ("officer_a", A.ACKNOWLEDGE, {}),
        ("supervisor_a", A.ASSIGN, {"assignee_id": world.users["officer_a"].id}),
        ("officer_a", A.RESOLVE, {"comment": "Đã sửa"}),
    ]:
        _do(world, case, who, action, **kw)
    late = case.resolved_at + timedelta(days=world.settings.reports_reopen_days + 1)  # type: ignore[operator]
    with pytest.raises(Conflict, match="within"):
        perform(
            world.session,
            world.settings,
            citizen,
            case,
            ActionRequest(A.REOPEN, comment="Chưa sửa"),
            now=late,
        )
    world.session.rollback()
    with pytest.raises(Forbidden):  # someone else's case
        _do(world, case, "citizen2", A.REOPEN, comment="x")
    world.session.rollback()
    with pytest.raises(Invalid, match="comment"):
        _do(world, case, "citizen", A.REOPEN)
    world.session.rollback()
    _do(world, case, "citizen", A.REOPEN, comment="Đèn lại tắt")
    assert case.state == "reopened"
    assert case.resolved_at is None
    token_actor = Actor(Principal.anonymous(), token_case_id=case.id)
    _do(world, case, "officer_a", A.ACKNOWLEDGE)
    _do(world, case, "supervisor_a", A.ASSIGN, assignee_id=world.users["officer_a"].id)
    _do(world, case, "officer_a", A.RESOLVE, comment="Đã sửa lần 2")
    perform(
        world.session,
        world.settings,
        token_actor,
        case,
        ActionRequest(A.REOPEN, comment="Vẫn hỏng"),
        now=MONDAY_9 + timedelta(days=1),
    )
    assert case.state == "reopened"


def test_followers_are_notified_of_public_changes_only(world: World) -> None:
    from cityops.notify.models import Delivery

    citizen = world.actor("citizen")
    case = world.submit(actor=citizen)

    def count() -> int:
        rows = world.session.scalars(select(Delivery).where(Delivery.user_id == citizen.user_id)).all()
        return len([r for r in rows if r.category == "case_status"])

    assert count() == 0
    _do(world, case, "officer_a", A.ACKNOWLEDGE)
    assert count() == 1
    _do(world, case, "officer_a", A.ADD_SUPPORT, agency_id=world.transport.id)  # internal: no message
    assert count() == 1
    _do(world, case, "supervisor_a", A.ASSIGN, assignee_id=world.users["officer_a"].id)
    assert count() == 2


def test_concurrent_actions_do_not_lose_updates(world: World, sessions: Any) -> None:
    from sqlalchemy.orm.exc import StaleDataError

    case = world.submit()
    other = sessions()
    try:
        twin = other.get(Case, case.id)
        assert twin is not None
        _do(world, case, "officer_a", A.ACKNOWLEDGE)  # commits first
        late = ActionRequest(A.REJECT, reason="out_of_scope", comment="x")
        with pytest.raises(StaleDataError):
            perform(other, world.settings, world.actor("officer_a"), twin, late)
        other.rollback()
    finally:
        other.close()
    world.session.refresh(case)
    assert case.state == "acknowledged"


def test_route_most_specific_jurisdiction_wins(world: World) -> None:
    from cityops.identity.models import AgencyJurisdiction
    from cityops.reports.routing import route_agency

    s = world.session
    # a catch-all at the province level loses to the ward's catch-all
    s.add(
        AgencyJurisdiction(agency_id=world.ward_b_committee.id, area_id=world.province.id, category_code=None)
    )
    s.commit()
    assert route_agency(s, world.ward_a.id, "lighting") == world.ward_a_committee.id
    # a category-specific row beats a catch-all, even at a wider level
    assert route_agency(s, world.ward_a.id, "roads") == world.transport.id
    # a category-specific row at the ward beats the province's category row
    s.add(
        AgencyJurisdiction(
            agency_id=world.ward_a_committee.id, area_id=world.ward_a.id, category_code="roads"
        )
    )
    s.commit()
    assert route_agency(s, world.ward_a.id, "roads") == world.ward_a_committee.id
    assert route_agency(s, None, "roads") is None

"""SLA deadlines on the working calendar (a weekend, Tết 2026) and the sweep: warn, overdue, escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from cityops.notify.channels import LogChannel
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import CaseEvent
from cityops.reports.sla import sweep_candidates, sweep_in_chunks, sweep_sla
from cityops.reports.workflow import CaseAction
from tests.reports.conftest import MONDAY_9, World


def local(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    """A Hồ Chí Minh wall-clock time as UTC (UTC+7, no DST)."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=7)


def test_acknowledge_deadline_skips_the_weekend(world: World) -> None:
    friday_16 = local(2026, 3, 6, 16)
    case = world.submit(now=friday_16)
    # Fri 16:00–17:00 (1 h) + Mon 07:30–11:30 (4 h) + Mon 13:30–16:30 (3 h) = 8 working hours
    assert case.ack_due_at == local(2026, 3, 9, 16, 30)
    # lighting: 24 working hours = 1 + 7.5 (Mon) + 7.5 (Tue) + 7.5 (Wed) + 0.5 (Thu 07:30–08:00)
    assert case.resolve_due_at == local(2026, 3, 12, 8)


def test_deadlines_skip_tet_2026(world: World) -> None:
    before_tet = local(2026, 2, 13, 16)  # Friday before Tết; 14–22 Feb are days off
    case = world.submit(now=before_tet)
    assert case.ack_due_at == local(2026, 2, 23, 16, 30)
    urgent = world.submit(category="public_order", now=before_tet, description="Tụ tập gây rối")
    assert urgent.urgent is True
    assert urgent.sla_hours == world.settings.reports_urgent_hours == 4
    # 1 h on Friday, then 3 h on the first working morning after Tết
    assert urgent.resolve_due_at == local(2026, 2, 23, 10, 30)


def test_sweep_warns_then_flags_overdue_and_escalates_once(world: World) -> None:
    case = world.submit(now=MONDAY_9)  # Monday 09:00 local
    assert case.ack_due_at == local(2026, 3, 3, 9, 30)  # 2.5 + 3.5 + 2 working hours
    s = world.session
    assert sweep_sla(s, local(2026, 3, 3, 7, 45), world.settings).warned == []
    result = sweep_sla(s, local(2026, 3, 3, 8, 0), world.settings)  # 1.5 h left ≤ 20 % of 8 h
    assert result.warned == [case.id]
    assert result.overdue == []
    assert case.overdue is False
    assert sweep_sla(s, local(2026, 3, 3, 8, 30), world.settings).warned == []  # warned once
    late = sweep_sla(s, local(2026, 3, 3, 10, 0), world.settings)
    assert late.overdue == [case.id]
    assert late.escalated == [case.id]
    assert case.overdue is True
    assert case.escalated_at is not None
    again = sweep_sla(s, local(2026, 3, 3, 11, 0), world.settings)
    assert again.overdue == []
    assert again.escalated == []
    s.commit()
    marks = s.scalars(
        select(CaseEvent.action).where(CaseEvent.case_id == case.id, CaseEvent.kind == "sla")
    ).all()
    assert sorted(marks) == ["escalated", "overdue", "warning"]
    escalation = s.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "escalated")
    )
    assert escalation is not None
    assert escalation.data["to"] == [world.users["supervisor_a"].id]
    # The supervisor's notice gives the deadline as people read it here: local time, dd/mm/yyyy.
    notices = [m.body_vi for m in LogChannel.recent() if "quá hạn" in m.body_vi]
    assert any("09:30 03/03/2026" in body for body in notices), notices


def test_acknowledged_case_runs_on_the_resolution_deadline(world: World) -> None:
    case = world.submit(now=MONDAY_9)
    perform(
        world.session,
        world.settings,
        world.actor("officer_a"),
        case,
        ActionRequest(CaseAction.ACKNOWLEDGE),
        now=MONDAY_9 + timedelta(hours=1),
    )
    world.session.commit()
    # past the acknowledgement deadline, before the resolution one: not overdue
    result = sweep_sla(world.session, local(2026, 3, 3, 10, 0), world.settings)
    assert case.id not in result.overdue
    assert case.resolve_due_at is not None
    result = sweep_sla(world.session, case.resolve_due_at + timedelta(minutes=1), world.settings)
    assert result.overdue == [case.id]


def test_closed_cases_are_not_swept(world: World) -> None:
    case = world.submit(now=MONDAY_9)
    perform(
        world.session,
        world.settings,
        world.actor("officer_a"),
        case,
        ActionRequest(CaseAction.REJECT, reason="out_of_scope", comment="Không thuộc thẩm quyền"),
        now=MONDAY_9,
    )
    world.session.commit()
    result = sweep_sla(world.session, MONDAY_9 + timedelta(days=30), world.settings)
    assert result.overdue == []
    assert result.warned == []


def test_warning_and_escalation_notify_staff(world: World) -> None:
    from cityops.notify.models import Delivery

    case = world.submit(now=MONDAY_9)
    sweep_sla(world.session, local(2026, 3, 3, 8, 0), world.settings)
    sweep_sla(world.session, local(2026, 3, 3, 10, 0), world.settings)
    world.session.commit()
    rows = world.session.scalars(
        select(Delivery).where(Delivery.user_id == world.users["supervisor_a"].id)
    ).all()
    assert {r.category for r in rows} == {"case_warning", "case_escalated"}
    assert all(case.ref in str(r.message) for r in rows)
    assert not world.session.scalars(
        select(Delivery).where(Delivery.user_id == world.users["officer_b"].id)
    ).all()


def test_the_server_sweep_works_in_short_transactions(world: World) -> None:
    """The background sweep marks every case however many there are, a chunk per transaction, and the
    next sweep has nothing left to look at for the escalated ones."""
    cases = [world.submit(now=MONDAY_9, description=f"Đèn hỏng {i}") for i in range(5)]
    world.session.commit()
    sessions = sessionmaker(bind=world.session.get_bind(), expire_on_commit=False)
    late = local(2026, 3, 20, 10)  # every deadline has passed
    result = sweep_in_chunks(sessions, late, world.settings, chunk=2)
    assert sorted(result.escalated) == sorted(c.id for c in cases)
    assert sorted(result.overdue) == sorted(c.id for c in cases)
    world.session.expire_all()
    assert all(world.session.get(type(c), c.id).overdue for c in cases)  # type: ignore[union-attr]
    with sessions() as s:
        assert sweep_candidates(s) == []
    assert sweep_in_chunks(sessions, late, world.settings, chunk=2).escalated == []


def test_a_warned_case_is_not_a_candidate_again_until_its_deadline_passes(world: World) -> None:
    """The server sweep skips cases already warned whose deadline is still ahead (nothing to mark),
    and picks them up again once it has passed."""
    case = world.submit(now=MONDAY_9, description="Đèn hỏng cả dãy")
    world.session.commit()
    sessions = sessionmaker(bind=world.session.get_bind(), expire_on_commit=False)
    due = case.ack_due_at
    assert due is not None
    before_due = due - timedelta(minutes=30)
    with sessions() as s:
        assert case.id in sweep_candidates(s, before_due)  # not warned yet
    warned = sweep_in_chunks(sessions, before_due, world.settings)
    assert warned.warned == [case.id]
    with sessions() as s:
        assert case.id not in sweep_candidates(s, before_due)
        assert case.id in sweep_candidates(s)  # without a time: every open, unescalated case
        assert case.id in sweep_candidates(s, due + timedelta(minutes=1))
    late = sweep_in_chunks(sessions, due + timedelta(minutes=1), world.settings)
    assert late.overdue == [case.id]
    assert late.escalated == [case.id]

"""SLA deadlines on the Vietnamese working calendar, and the sweep that warns, flags and escalates.

- acknowledge within ``reports_ack_hours`` working hours (default 8);
- handle urgent cases within ``reports_urgent_hours`` (default 4), others within the category's hours;
- an approved extension moves the handling deadline by its hours;
- :func:`sweep_sla` (run by the scheduler, testable with an explicit ``now``) warns before a breach,
  flags overdue cases and escalates them to the agency's supervisors, each once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import format_datetime
from cityops.db import session_scope, write_turn
from cityops.reports import integrations
from cityops.reports.models import Case, CaseEvent
from cityops.reports.workflow import OPEN_STATES, State
from cityops.settings import Settings, load_settings
from cityops.workcalendar import WorkingCalendar

_calendar: tuple[tuple[object, ...], WorkingCalendar] | None = None


def calendar(settings: Settings) -> WorkingCalendar:
    """The working calendar of ``settings``, built once per distinct configuration: every submission
    computes two deadlines, and parsing the days off and periods each time was a few % of its CPU."""
    global _calendar
    key = (
        tuple(settings.extra_days_off),
        tuple(settings.makeup_workdays),
        tuple(settings.workday_periods),
        settings.timezone,
    )
    cached = _calendar
    if cached is not None and cached[0] == key:
        return cached[1]
    cal = WorkingCalendar.from_settings(settings)
    _calendar = (key, cal)
    return cal


def handling_hours(settings: Settings, category_hours: float, urgent: bool) -> float:
    """Working hours allowed to resolve: the urgent budget, or the category's."""
    return min(settings.reports_urgent_hours, category_hours) if urgent else category_hours


def set_deadlines(case: Case, settings: Settings, start: datetime, *, ack: bool = True) -> None:
    """(Re)compute the deadlines from ``start``: acknowledgement (if ``ack``) and resolution."""
    cal = calendar(settings)
    if ack:
        case.ack_due_at = cal.add_working_hours(start, settings.reports_ack_hours)
    case.resolve_due_at = cal.add_working_hours(start, case.sla_hours + case.extended_hours)
    case.overdue = False
    case.warned_at = None
    case.escalated_at = None


def restart_ack_clock(case: Case, settings: Settings, start: datetime) -> None:
    """A transferred or returned case must be acknowledged again by its new holder."""
    case.ack_due_at = calendar(settings).add_working_hours(start, settings.reports_ack_hours)


def extend(case: Case, settings: Settings, hours: float) -> None:
    """Move the resolution deadline by ``hours`` working hours (an approved extension)."""
    case.extended_hours += hours
    if case.resolve_due_at is not None:
        case.resolve_due_at = calendar(settings).add_working_hours(case.resolve_due_at, hours)
    case.overdue = False
    case.warned_at = None
    case.escalated_at = None


def awaiting_ack(case: Case) -> bool:
    return case.state in (State.SUBMITTED, State.REOPENED)


def current_due(case: Case) -> datetime | None:
    """The deadline that matters now: the acknowledgement one while unacknowledged, else resolution."""
    if case.state not in OPEN_STATES:
        return None
    if awaiting_ack(case) and case.ack_due_at is not None:
        if case.resolve_due_at is None:
            return case.ack_due_at
        return min(case.ack_due_at, case.resolve_due_at)
    return case.resolve_due_at


def is_overdue(case: Case, now: datetime) -> bool:
    due = current_due(case)
    return due is not None and now > due


def resolved_on_time(case: Case) -> bool | None:
    """Whether a resolved case met its (possibly extended) handling deadline."""
    if case.resolved_at is None or case.resolve_due_at is None:
        return None
    return case.resolved_at <= case.resolve_due_at


@dataclass
class SweepResult:
    warned: list[int] = field(default_factory=list)
    overdue: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


def _supervisors(session: Session, agency_id: int | None) -> list[int]:
    from cityops.identity.models import Membership, Role, User

    if agency_id is None:
        rows = session.scalars(select(User.id).where(User.role == Role.OPERATOR))
        return list(rows)
    rows = session.scalars(
        select(User.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.agency_id == agency_id, User.role == Role.SUPERVISOR)
    )
    return list(rows)


def _mark(session: Session, case: Case, now: datetime, what: str, data: dict[str, object]) -> None:
    session.add(CaseEvent(case_id=case.id, at=now, actor_role="system", kind="sla", action=what, data=data))
    integrations.audit(session, None, f"case.sla_{what}", case.id, after={"state": case.state, **data})


# The cases a sweep looks at: open, and not escalated for their current deadline (an escalated case has
# had every mark; a new deadline clears ``escalated_at``).
_UNESCALATED_OPEN = (Case.state.in_([s.value for s in OPEN_STATES]), Case.escalated_at.is_(None))


def sweep_candidates(session: Session, now: datetime | None = None) -> list[int]:
    """Ids of the cases a sweep may still mark: open and not yet escalated for their current deadline
    (an escalated case has had every mark; a new deadline clears ``escalated_at``). With ``now``, also
    not the warned ones whose deadline has not passed yet: nothing is due for them, and re-reading every
    warned case on every sweep was most of its work with many open cases."""
    query = select(Case.id).where(*_UNESCALATED_OPEN)
    if now is not None:
        awaiting = Case.state.in_([State.SUBMITTED.value, State.REOPENED.value])
        query = query.where(
            or_(
                Case.warned_at.is_(None),
                Case.overdue.is_(True),
                Case.resolve_due_at <= now,
                and_(awaiting, Case.ack_due_at <= now),
            )
        )
    return list(session.scalars(query.order_by(Case.id)))


def sweep_sla(
    session: Session, now: datetime, settings: Settings | None = None, ids: Sequence[int] | None = None
) -> SweepResult:
    """Warn, flag overdue and escalate open cases as of ``now`` (only ``ids`` when given); commit-free
    (the caller commits).

    Each mark is made once per deadline: a new deadline (extension, reopen) clears the marks.
    """
    settings = settings or load_settings()
    cal = calendar(settings)
    result = SweepResult()
    by_agency: dict[int | None, list[int]] = {}

    def supervisors_of(agency_id: int | None) -> list[int]:
        # once per agency and sweep, not once per case marked
        if agency_id not in by_agency:
            by_agency[agency_id] = _supervisors(session, agency_id)
        return by_agency[agency_id]

    query = select(Case).where(*_UNESCALATED_OPEN)
    if ids is not None:
        query = query.where(Case.id.in_(ids))
    cases = session.scalars(query)
    for case in cases:
        due = current_due(case)
        if due is None:
            continue
        if now > due:
            if not case.overdue:
                case.overdue = True
                result.overdue.append(case.id)
                _mark(session, case, now, "overdue", {"due": due.isoformat()})
                # its indicator cells (overdue open cases) follow at once, escalated or not
                integrations.emit(session, "cases.overdue", {"id": case.id, "ref": case.ref})
            if case.escalated_at is None:
                case.escalated_at = now
                result.escalated.append(case.id)
                supervisors = supervisors_of(case.agency_id)
                _mark(session, case, now, "escalated", {"to": supervisors})
                for user_id in supervisors:
                    integrations.notify(
                        session,
                        settings,
                        {"user_id": user_id},
                        "case_escalated",
                        {"ref": case.ref, "due": format_datetime(due)},
                    )
                integrations.emit(
                    session, "cases.escalated", {"id": case.id, "ref": case.ref, "agency_id": case.agency_id}
                )
            continue
        if case.warned_at is None:
            budget = (
                settings.reports_ack_hours if due == case.ack_due_at else case.sla_hours + case.extended_hours
            )
            remaining = cal.working_hours_between(now, due)
            if remaining <= budget * (1 - settings.reports_warning_fraction):
                case.warned_at = now
                result.warned.append(case.id)
                _mark(
                    session,
                    case,
                    now,
                    "warning",
                    {"due": due.isoformat(), "remaining_h": round(remaining, 2)},
                )
                integrations.emit(session, "cases.sla_warning", {"id": case.id, "ref": case.ref})
                recipients = {case.assignee_id} if case.assignee_id is not None else set()
                recipients.update(supervisors_of(case.agency_id))
                for user_id in sorted(recipients):
                    integrations.notify(
                        session,
                        settings,
                        {"user_id": user_id},
                        "case_warning",
                        {"ref": case.ref, "due": format_datetime(due)},
                    )
    session.flush()
    return result


SWEEP_CHUNK = 50
SWEEP_PAUSE_S = 0.02  # between chunks: the lock is not fair, so let a waiting writer take its turn


def sweep_in_chunks(
    sessions: sessionmaker[Session], now: datetime, settings: Settings, chunk: int = SWEEP_CHUNK
) -> SweepResult:
    """The server's sweep: :func:`sweep_sla` over every candidate, ``chunk`` cases per transaction, each
    taking its write turn like a submission and pausing after it, so a backlog (after downtime, or 10^5 open cases) never
    holds the write lock for long and citizens' reports keep going through while it is worked off."""
    total = SweepResult()
    with session_scope(sessions) as session:
        ids = sweep_candidates(session, now)
    for start in range(0, len(ids), chunk):
        with session_scope(sessions) as session, write_turn(session):
            part = sweep_sla(session, now, settings, ids=ids[start : start + chunk])
            session.commit()  # inside the turn: the next writer starts once this one has committed
        time.sleep(SWEEP_PAUSE_S)
        total.warned += part.warned
        total.overdue += part.overdue
        total.escalated += part.escalated
    return total

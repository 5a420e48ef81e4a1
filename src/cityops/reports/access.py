"""Who is acting on a case, and the bridge from case actions to :mod:`cityops.identity.policy`.

The permission rules live in the policy module (``Action.CASE_*``). This module only builds what those
rules look at: an :class:`Actor` (the request's ``Principal`` plus, for an anonymous reporter, the case
whose tracking token they proved) and a :class:`CaseTarget` (the holding agency and the reporter).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import Forbidden
from cityops.identity.models import Role
from cityops.identity.policy import Action, Principal, can
from cityops.reports.models import Case, CaseAgency, CaseReporter


@dataclass(frozen=True)
class Actor:
    """A principal acting on cases; ``token_case_id`` is set when an anonymous reporter proved a token."""

    principal: Principal
    token_case_id: int | None = None

    @property
    def user_id(self) -> int | None:
        return self.principal.user_id

    @property
    def role(self) -> str:
        if self.principal.role is not None:
            return self.principal.role.value
        return "api_key" if self.principal.api_key_id is not None else "anonymous"

    @property
    def agency_ids(self) -> frozenset[int]:
        return self.principal.agency_ids

    @property
    def is_citizen(self) -> bool:
        return self.principal.role is Role.CITIZEN

    @property
    def is_staff(self) -> bool:
        return self.principal.is_staff

    @property
    def is_operator(self) -> bool:
        return self.principal.role is Role.OPERATOR

    @property
    def label(self) -> str:
        """Scope for idempotency keys: who sent the request."""
        if self.principal.user_id is not None:
            return f"user:{self.principal.user_id}"
        if self.principal.api_key_id is not None:
            return f"key:{self.principal.api_key_id}"
        return "anon"


SYSTEM = Actor(Principal.anonymous())


@dataclass(frozen=True)
class CaseTarget:
    """What the policy rules look at: the holding agency and the reporting user."""

    id: int
    agency_id: int | None
    reporter_id: int | None


def reporter_ids(session: Session, case: Case) -> set[int]:
    return {
        uid
        for uid in session.scalars(select(CaseReporter.user_id).where(CaseReporter.case_id == case.id))
        if uid is not None
    }


def supporting_agencies(session: Session, case: Case) -> set[int]:
    return set(session.scalars(select(CaseAgency.agency_id).where(CaseAgency.case_id == case.id)))


def target(session: Session, actor: Actor, case: Case, agency_id: int | None = None) -> CaseTarget:
    reporters = reporter_ids(session, case)
    reporter = actor.user_id if actor.user_id in reporters else (min(reporters) if reporters else None)
    return CaseTarget(case.id, case.agency_id if agency_id is None else agency_id, reporter)


def is_reporter(session: Session, actor: Actor, case: Case) -> bool:
    if actor.token_case_id is not None and actor.token_case_id == case.id:
        return True
    return actor.user_id is not None and actor.user_id in reporter_ids(session, case)


def is_handler(session: Session, actor: Actor, case: Case) -> bool:
    """May act for the lead agency (officer/supervisor of it, or the IOC operator)."""
    return can(actor.principal, Action.CASE_TRANSITION, target(session, actor, case))


def can_view_personal(session: Session, actor: Actor, case: Case) -> bool:
    """Staff handling the case (lead or supporting agency, or the operator) see the reporter's details."""
    if can(actor.principal, Action.CASE_VIEW_PERSONAL, target(session, actor, case)):
        return True
    return any(
        can(actor.principal, Action.CASE_TRANSITION, target(session, actor, case, agency_id=a))
        for a in supporting_agencies(session, case)
    )


def may_see_restricted(session: Session, actor: Actor, case: Case) -> bool:
    """A case of a restricted category (public order) is for the policy's ``case.view_restricted`` (the agency
    holding it, the IOC operator) and its own reporter; every other case answers True."""
    from cityops.reports.categories import restricted_codes

    if case.category_code not in restricted_codes():
        return True
    if can(actor.principal, Action.CASE_VIEW_RESTRICTED, target(session, actor, case)):
        return True
    if any(  # an agency the holding one asked for support
        can(actor.principal, Action.CASE_VIEW_RESTRICTED, target(session, actor, case, agency_id=a))
        for a in supporting_agencies(session, case)
    ):
        return True
    return is_reporter(session, actor, case)


def can_note(session: Session, actor: Actor, case: Case) -> bool:
    """Internal notes: staff of the lead or a supporting agency, or the operator."""
    return (
        actor.is_staff and can_view_personal(session, actor, case) and actor.principal.role is not Role.ADMIN
    )


# case action → the policy action that decides who may do it
POLICY_FOR = {
    "acknowledge": Action.CASE_TRANSITION,
    "start": Action.CASE_TRANSITION,
    "resolve": Action.CASE_TRANSITION,
    "close": Action.CASE_TRANSITION,
    "reject": Action.CASE_TRANSITION,
    "transfer": Action.CASE_TRANSITION,
    "return": Action.CASE_TRANSITION,
    "add_support": Action.CASE_TRANSITION,
    "request_extension": Action.CASE_TRANSITION,
    "reopen": Action.CASE_REOPEN,
    "assign": Action.CASE_ASSIGN,
    "decide_extension": Action.CASE_APPROVE_EXTENSION,
    "merge": Action.CASE_MODERATE,
    "moderate": Action.CASE_MODERATE,
}


def case_permission(session: Session, actor: Actor, action: str, case: Case) -> bool:
    """Whether ``actor`` may take ``action`` (a :class:`~cityops.reports.workflow.CaseAction`) on ``case``.

    Every action is decided by the policy table; the one addition here is that an anonymous reporter
    holding the case's tracking token counts as its reporter (the policy only knows signed-in users).
    """
    if action == "reopen" and actor.token_case_id is not None and actor.token_case_id == case.id:
        return True
    return can(actor.principal, POLICY_FOR[action], target(session, actor, case))


def require(allowed: bool, message: str) -> None:
    if not allowed:
        raise Forbidden(message)

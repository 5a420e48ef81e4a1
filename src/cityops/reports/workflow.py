"""The case state machine: one table says which action may move a case from which state to which.

Who may act is decided by :mod:`cityops.identity.policy`; what the case's state allows is decided here.
Actions whose ``target`` is ``None`` keep the state (transfer bookkeeping, joint handling, extensions).
An illegal action raises 409 with the actions the current state allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cityops.errors import Conflict


class State(StrEnum):
    SUBMITTED = "submitted"
    ACKNOWLEDGED = "acknowledged"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    REOPENED = "reopened"


class RejectReason(StrEnum):
    OUT_OF_SCOPE = "out_of_scope"
    DUPLICATE = "duplicate"
    INSUFFICIENT_INFORMATION = "insufficient_information"


class CaseAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    START = "start"
    RESOLVE = "resolve"
    CLOSE = "close"
    REJECT = "reject"
    REOPEN = "reopen"
    TRANSFER = "transfer"  # to another agency: the new agency acknowledges again
    RETURN = "return"  # wrong recipient: back to the dispatcher queue
    ADD_SUPPORT = "add_support"  # joint handling: a supporting agency joins the lead
    REQUEST_EXTENSION = "request_extension"
    DECIDE_EXTENSION = "decide_extension"
    MERGE = "merge"  # this case is a duplicate of a master case


OPEN_STATES = frozenset(
    {State.SUBMITTED, State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.REOPENED}
)
WORKING_STATES = frozenset({State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.REOPENED})
FINAL_STATES = frozenset({State.CLOSED, State.REJECTED})


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State]
    target: State | None  # None: the state does not change
    needs_comment: bool = False


TRANSITIONS: dict[CaseAction, Transition] = {
    CaseAction.ACKNOWLEDGE: Transition(frozenset({State.SUBMITTED, State.REOPENED}), State.ACKNOWLEDGED),
    CaseAction.ASSIGN: Transition(
        frozenset({State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.REOPENED}), State.ASSIGNED
    ),
    # an officer of the holding agency may start on an acknowledged case: they become its assignee
    # (a supervisor's assignment is not a precondition for working and finishing a case)
    CaseAction.START: Transition(
        frozenset({State.ACKNOWLEDGED, State.ASSIGNED, State.REOPENED}), State.IN_PROGRESS
    ),
    # resolution needs an after-photo or a written reason (checked by the service)
    CaseAction.RESOLVE: Transition(frozenset({State.ASSIGNED, State.IN_PROGRESS}), State.RESOLVED),
    CaseAction.CLOSE: Transition(frozenset({State.RESOLVED}), State.CLOSED, needs_comment=True),
    CaseAction.REJECT: Transition(OPEN_STATES, State.REJECTED, needs_comment=True),
    CaseAction.REOPEN: Transition(
        frozenset({State.RESOLVED, State.CLOSED}), State.REOPENED, needs_comment=True
    ),
    CaseAction.TRANSFER: Transition(OPEN_STATES, State.SUBMITTED, needs_comment=True),
    CaseAction.RETURN: Transition(OPEN_STATES, State.SUBMITTED, needs_comment=True),
    CaseAction.ADD_SUPPORT: Transition(WORKING_STATES, None),
    CaseAction.REQUEST_EXTENSION: Transition(frozenset({State.ASSIGNED, State.IN_PROGRESS}), None, True),
    CaseAction.DECIDE_EXTENSION: Transition(
        frozenset({State.ASSIGNED, State.IN_PROGRESS, State.ACKNOWLEDGED, State.REOPENED}), None
    ),
    CaseAction.MERGE: Transition(OPEN_STATES, State.REJECTED),
}


def allowed_actions(state: State) -> list[CaseAction]:
    """The actions the table allows from ``state`` (in table order)."""
    return [action for action, t in TRANSITIONS.items() if state in t.sources]


def target_state(state: State, action: CaseAction) -> State:
    """The state ``action`` leads to from ``state``; raise 409 listing the allowed actions if illegal."""
    transition = TRANSITIONS[action]
    if state not in transition.sources:
        allowed = [a.value for a in allowed_actions(state)]
        raise Conflict(
            f"A case in state '{state.value}' cannot be '{action.value}'d; "
            f"allowed actions: {', '.join(allowed) if allowed else 'none'}",
            code="illegal_transition",
            details={"state": state.value, "action": action.value, "allowed": allowed},
        )
    return transition.target or state


def is_open(state: State) -> bool:
    return state in OPEN_STATES


def open311_status(state: State) -> str:
    """Open311 knows two statuses."""
    return "open" if state in OPEN_STATES else "closed"

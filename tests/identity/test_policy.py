"""The policy table: who may do what, grants and denials."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cityops.errors import Forbidden, Unauthorized
from cityops.identity.models import ApiScope, Role
from cityops.identity.policy import RULES, Action, Principal, PrincipalKind, allowed_actions, authorize, can

ANON = Principal.anonymous()


def user(role: Role, *agencies: int, user_id: int = 7) -> Principal:
    return Principal(kind=PrincipalKind.USER, user_id=user_id, role=role, agency_ids=frozenset(agencies))


def key(*scopes: ApiScope, thing_id: int | None = None) -> Principal:
    return Principal(kind=PrincipalKind.API_KEY, api_key_id=1, scopes=frozenset(scopes), thing_id=thing_id)


@dataclass
class Case:
    agency_id: int | None
    reporter_id: int | None = None


@dataclass
class Obs:
    thing_id: int | None


@dataclass
class Target:
    id: int


CITIZEN, OFFICER, SUPERVISOR = user(Role.CITIZEN), user(Role.OFFICER, 1), user(Role.SUPERVISOR, 1)
OPERATOR, ADMIN = user(Role.OPERATOR), user(Role.ADMIN)
READ_KEY, INGEST_KEY = key(ApiScope.READ), key(ApiScope.INGEST)


def test_every_action_has_a_rule() -> None:
    assert set(RULES) == set(Action)


ADMIN_ONLY = [
    Action.USER_LIST,
    Action.USER_CREATE,
    Action.USER_UPDATE,
    Action.AGENCY_CREATE,
    Action.JURISDICTION_MANAGE,
    Action.API_KEY_CREATE,
    Action.API_KEY_REVOKE,
    Action.API_KEY_LIST,
    Action.AUDIT_READ,
    Action.AREA_IMPORT,
]


@pytest.mark.parametrize("action", ADMIN_ONLY)
def test_admin_only_actions(action: Action) -> None:
    assert can(ADMIN, action)
    for other in (ANON, CITIZEN, OFFICER, SUPERVISOR, OPERATOR, READ_KEY, INGEST_KEY, key(*ApiScope)):
        assert not can(other, action), (other, action)


@pytest.mark.parametrize(
    ("principal", "action", "target", "allowed"),
    [
        (ANON, Action.AGENCY_LIST, None, True),
        (ANON, Action.AREA_READ, None, True),
        (ANON, Action.CASE_CREATE, None, True),
        (ANON, Action.AUTH_ME, None, False),
        (READ_KEY, Action.AUTH_ME, None, False),
        (CITIZEN, Action.AUTH_ME, None, True),
        (CITIZEN, Action.USER_VIEW, Target(7), True),  # self
        (CITIZEN, Action.USER_VIEW, Target(8), False),
        (CITIZEN, Action.USER_VIEW, None, False),
        # cases: the agency holding the case, its supervisor, the IOC operator, the reporter
        (OFFICER, Action.CASE_TRANSITION, Case(agency_id=1), True),
        (OFFICER, Action.CASE_TRANSITION, Case(agency_id=2), False),
        (OFFICER, Action.CASE_TRANSITION, Case(agency_id=None), False),
        (OFFICER, Action.CASE_TRANSITION, None, False),
        (OPERATOR, Action.CASE_TRANSITION, Case(agency_id=2), True),
        (ADMIN, Action.CASE_TRANSITION, Case(agency_id=1), False),
        (CITIZEN, Action.CASE_TRANSITION, Case(agency_id=1, reporter_id=7), False),
        (OFFICER, Action.CASE_VIEW_PERSONAL, Case(agency_id=1), True),
        (OFFICER, Action.CASE_VIEW_PERSONAL, Case(agency_id=2), False),
        (CITIZEN, Action.CASE_VIEW_PERSONAL, Case(agency_id=1, reporter_id=7), True),
        (CITIZEN, Action.CASE_VIEW_PERSONAL, Case(agency_id=1, reporter_id=8), False),
        (ANON, Action.CASE_VIEW_PERSONAL, Case(agency_id=1, reporter_id=None), False),
        (ADMIN, Action.CASE_VIEW_PERSONAL, Case(agency_id=1), False),  # admins run the system, not cases
        (READ_KEY, Action.CASE_VIEW_PERSONAL, Case(agency_id=1), False),
        (OFFICER, Action.CASE_ASSIGN, Case(agency_id=1), False),
        (SUPERVISOR, Action.CASE_ASSIGN, Case(agency_id=1), True),
        (SUPERVISOR, Action.CASE_ASSIGN, Case(agency_id=2), False),
        (SUPERVISOR, Action.CASE_APPROVE_EXTENSION, Case(agency_id=1), True),
        (OFFICER, Action.CASE_APPROVE_EXTENSION, Case(agency_id=1), False),
        # sensing: ingest needs the ingest scope, and a key bound to a Thing only feeds that Thing
        (INGEST_KEY, Action.SENSING_INGEST, Obs(5), True),
        (READ_KEY, Action.SENSING_INGEST, Obs(5), False),
        (key(ApiScope.OPEN311), Action.SENSING_INGEST, Obs(5), False),
        (key(ApiScope.INGEST, thing_id=5), Action.SENSING_INGEST, Obs(5), True),
        (key(ApiScope.INGEST, thing_id=5), Action.SENSING_INGEST, Obs(6), False),
        (key(ApiScope.INGEST, thing_id=5), Action.SENSING_INGEST, None, False),
        (ANON, Action.SENSING_INGEST, Obs(5), False),
        (OFFICER, Action.SENSING_INGEST, Obs(5), False),
        (READ_KEY, Action.SENSING_READ, None, True),
        (ANON, Action.SENSING_READ, None, False),
        (CITIZEN, Action.SENSING_READ, None, False),
        (OPERATOR, Action.SENSING_MANAGE, None, True),
        (READ_KEY, Action.SENSING_MANAGE, None, False),
        (key(ApiScope.OPEN311), Action.OPEN311_SUBMIT, None, True),
        (READ_KEY, Action.OPEN311_SUBMIT, None, False),
        (ANON, Action.OPEN311_SUBMIT, None, False),
        (OPERATOR, Action.IOC_VIEW, None, True),
        (CITIZEN, Action.IOC_VIEW, None, False),
    ],
)
def test_policy_table(principal: Principal, action: Action, target: object, allowed: bool) -> None:
    assert can(principal, action, target) is allowed


def test_authorize_raises_401_for_anonymous_and_403_for_others() -> None:
    with pytest.raises(Unauthorized):
        authorize(ANON, Action.USER_LIST)
    with pytest.raises(Forbidden) as err:
        authorize(CITIZEN, Action.USER_LIST)
    assert err.value.status == 403
    assert err.value.details == {"action": "user.list"}
    authorize(ADMIN, Action.USER_LIST)  # no exception


def test_unknown_action_is_denied_even_to_admins() -> None:
    assert not can(ADMIN, "no.such.action")
    with pytest.raises(Forbidden):
        authorize(ADMIN, "no.such.action")


def test_unknown_stored_scopes_are_ignored() -> None:
    class FakeKey:
        id = 3
        name = "k"
        scopes = ("read", "bogus")
        thing_id = None
        owner_agency_id = None

    p = Principal.for_api_key(FakeKey())  # type: ignore[arg-type]
    assert p.scopes == frozenset({ApiScope.READ})
    assert p.label == "key:k"


def test_allowed_actions_lists_targetless_grants() -> None:
    got = allowed_actions(CITIZEN)
    assert Action.AUTH_ME in got
    assert Action.USER_LIST not in got
    assert Action.CASE_TRANSITION not in got  # needs a target

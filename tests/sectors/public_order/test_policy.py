"""The two policy actions public order relies on, decided in the policy module alone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cityops.identity.models import Role
from cityops.identity.policy import Action, Principal, PrincipalKind, can

POLICE, WARD = 7, 8


@dataclass(frozen=True)
class Held:
    id: int
    agency_id: int | None
    reporter_id: int | None = None


def user(role: Role, *agencies: int) -> Principal:
    return Principal(kind=PrincipalKind.USER, role=role, user_id=1, agency_ids=frozenset(agencies), label="t")


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (user(Role.OFFICER, POLICE), True),  # the police agency holding the case
        (user(Role.SUPERVISOR, POLICE), True),
        (user(Role.OPERATOR), True),
        (user(Role.OFFICER, WARD), False),  # another agency's officer
        (user(Role.ADMIN), False),  # admins run the system, not cases
        (user(Role.CITIZEN), False),
        (Principal.anonymous(), False),
    ],
)
def test_case_view_restricted(principal: Principal, allowed: bool) -> None:
    assert can(principal, Action.CASE_VIEW_RESTRICTED, Held(1, POLICE)) is allowed


@pytest.mark.parametrize(
    ("principal", "allowed"),
    [
        (user(Role.OFFICER, WARD), True),
        (user(Role.OPERATOR), True),
        (user(Role.ADMIN), True),
        (user(Role.CITIZEN), False),
        (Principal.anonymous(), False),
    ],
)
def test_hotspot_view_full_is_for_staff(principal: Principal, allowed: bool) -> None:
    assert can(principal, Action.HOTSPOT_VIEW_FULL) is allowed

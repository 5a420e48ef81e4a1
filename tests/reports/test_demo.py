"""The demo loader adds sample cases once, routed and in varied states, and work for every agency's officer."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from cityops.reports.demo import INBOX, SAMPLES, load
from cityops.reports.models import Case
from tests.reports.conftest import A_POINT, World


def test_demo_cases_once(world: World) -> None:
    world.ward_a.lat, world.ward_a.lon = A_POINT
    world.session.commit()
    console = Console(quiet=True)
    load(world.session, world.settings, console)
    world.session.commit()
    load(world.session, world.settings, console)  # idempotent
    world.session.commit()
    cases = world.session.scalars(select(Case).where(Case.source == "demo").order_by(Case.id)).all()
    samples, inboxes = cases[: len(SAMPLES)], cases[len(SAMPLES) :]
    assert {c.agency_id for c in samples} == {world.ward_a_committee.id}
    assert [c.state for c in samples] == [
        "submitted",
        "acknowledged",
        "acknowledged",
        "resolved",
        "submitted",
        "closed",
    ]
    # every agency with an officer (ward A, ward B, the transport department) has its own inbox
    staffed = [world.ward_a_committee.id, world.ward_b_committee.id, world.transport.id]
    assert len(inboxes) == len(INBOX) * len(staffed)
    for agency_id in staffed:
        mine = [c for c in inboxes if c.agency_id == agency_id]
        assert [c.state for c in mine] == ["submitted", "acknowledged", "in_progress"]
        officer = next(u for u in world.users.values() if agency_id in u.agency_ids and u.role == "officer")
        assert mine[-1].assignee_id == officer.id  # the officer started it: it is theirs

"""The demo loader adds sample cases once, routed and in varied states."""

from __future__ import annotations

from rich.console import Console
from sqlalchemy import select

from cityops.reports.demo import SAMPLES, load
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
    assert len(cases) == len(SAMPLES)
    assert {c.agency_id for c in cases} == {world.ward_a_committee.id}
    assert [c.state for c in cases] == [
        "submitted",
        "acknowledged",
        "acknowledged",
        "resolved",
        "submitted",
        "closed",
    ]

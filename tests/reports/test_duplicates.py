"""Duplicate suggestions on submission and merging duplicates into a master case."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cityops.errors import Conflict
from cityops.identity.policy import Principal
from cityops.reports.access import Actor
from cityops.reports.duplicates import haversine_m
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.intake import Submission, submit
from cityops.reports.models import CaseEvent, CaseReporter, CaseSubscription
from cityops.reports.workflow import CaseAction
from tests.reports.conftest import A_POINT, MONDAY_9, World

# ~100 m and ~300 m north of A_POINT
NEAR = (A_POINT[0] + 0.0009, A_POINT[1])
FAR = (A_POINT[0] + 0.0027, A_POINT[1])


def _submit(world: World, category: str, point: tuple[float, float], actor: Actor | None = None) -> list[str]:
    result = submit(
        world.session,
        world.settings,
        actor or Actor(Principal.anonymous()),
        Submission(category_code=category, lat=point[0], lon=point[1], description="x"),
        now=MONDAY_9,
    )
    world.session.commit()
    return [d["ref"] for d in result.duplicates]


def test_haversine() -> None:
    assert haversine_m(*A_POINT, *NEAR) == pytest.approx(100, abs=1)
    assert haversine_m(*A_POINT, *FAR) == pytest.approx(300, abs=2)


def test_suggests_open_cases_of_the_same_category_within_the_radius(world: World) -> None:
    first = world.submit(category="lighting")
    assert _submit(world, "lighting", NEAR) == [first.ref]
    assert _submit(world, "waste", NEAR) == []  # another category
    assert first.ref not in _submit(world, "lighting", (FAR[0] + 0.001, FAR[1]))  # 400 m away
    perform(
        world.session,
        world.settings,
        world.actor("officer_a"),
        first,
        ActionRequest(CaseAction.REJECT, reason="out_of_scope", comment="x"),
    )
    world.session.commit()
    assert first.ref not in _submit(world, "lighting", A_POINT)  # no longer open


def test_merge_moves_reporters_and_followers_to_the_master(world: World) -> None:
    c1, c2 = world.actor("citizen"), world.actor("citizen2")
    master = world.submit(actor=c1, name="Nguyễn Văn A", phone="0901234567", consent=True)
    dup = world.submit(actor=c2, point=NEAR, name="Trần Thị B", email="b@example.vn", consent=True)
    bad = world.submit()
    perform(
        world.session,
        world.settings,
        world.actor("officer_a"),
        bad,
        ActionRequest(CaseAction.REJECT, reason="out_of_scope", comment="x"),
    )
    with pytest.raises(Conflict):  # the table forbids merging from a final state
        perform(
            world.session,
            world.settings,
            world.actor("supervisor_a"),
            bad,
            ActionRequest(CaseAction.MERGE, master_id=master.id),
        )
    world.session.rollback()
    perform(
        world.session,
        world.settings,
        world.actor("supervisor_a"),
        dup,
        ActionRequest(CaseAction.MERGE, master_id=master.id),
    )
    world.session.commit()
    assert dup.state == "rejected"
    assert dup.reject_reason == "duplicate"
    assert dup.master_id == master.id
    reporters = world.session.scalars(select(CaseReporter).where(CaseReporter.case_id == master.id)).all()
    assert {r.user_id for r in reporters} == {c1.user_id, c2.user_id}
    moved = [r for r in reporters if r.merged_from_id == dup.id]
    assert moved
    assert moved[0].email == "b@example.vn"
    followers = world.session.scalars(
        select(CaseSubscription.user_id).where(CaseSubscription.case_id == master.id)
    ).all()
    assert set(followers) == {c1.user_id, c2.user_id}
    assert world.session.scalar(
        select(CaseEvent).where(CaseEvent.case_id == master.id, CaseEvent.kind == "merged_in")
    )
    # the citizen of the merged case may now reopen the master after resolution (they follow it)
    from cityops.reports.access import is_reporter

    assert is_reporter(world.session, c2, master)
    # merging into a merged case or into itself is refused
    other = world.submit(point=NEAR)
    with pytest.raises(Conflict):
        perform(
            world.session,
            world.settings,
            world.actor("supervisor_a"),
            other,
            ActionRequest(CaseAction.MERGE, master_id=dup.id),
        )
    world.session.rollback()


def test_merge_needs_moderation_rights(world: World) -> None:
    from cityops.errors import Forbidden

    master = world.submit()
    dup = world.submit(point=NEAR)
    with pytest.raises(Forbidden):
        perform(
            world.session,
            world.settings,
            world.actor("officer_a"),
            dup,
            ActionRequest(CaseAction.MERGE, master_id=master.id),
        )

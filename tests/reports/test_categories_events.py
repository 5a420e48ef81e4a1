"""Categories from plugins (sync, deactivation, dict specs), outbox events, pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cityops.errors import Invalid
from cityops.events.models import OutboxEvent
from cityops.reports.categories import (
    CategorySpec,
    Datatype,
    QuestionSpec,
    collect_specs,
    sync_categories,
    validate_answers,
)
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import Category
from cityops.reports.workflow import CaseAction
from tests.kit.queries import get_counted
from tests.reports.conftest import A_POINT, World


def test_default_categories_are_vietnamese_with_english() -> None:
    """The sectors declare the categories the core used to (codes unchanged: cases point at them)."""
    declared = collect_specs()
    codes = [c.code for c in declared]
    assert codes == [
        "roads",
        "lighting",
        "drainage",
        "waste",
        "environment",
        "public_order",
        "traffic",
        "traffic_incident",
        "health",
        "education",
        "tourism",
        "water",
        "trees",
        "construction",
        "other",
    ]
    assert all(c.name_vi and c.name_en and c.sla_hours > 0 for c in declared)
    assert {c.code for c in declared if c.urgent} == {"public_order", "traffic", "traffic_incident"}
    assert {c.code for c in declared if c.restricted} == {"public_order"}  # police and operators only (#18)
    assert {c.code for c in declared if c.sector == "core"} == {"other"}


def test_question_texts_are_one_language_each(world: World, client: TestClient) -> None:
    """A question's label and value names are Vietnamese, their ``_en`` twins English (#14); older stored
    questions without the ``_en`` fields still read."""
    question = QuestionSpec(
        "severity",
        "Mức độ",
        Datatype.SINGLEVALUELIST,
        values=(("low", "Nhẹ"),),
        label_en="Severity",
        values_en=(("low", "Low"),),
    )
    assert QuestionSpec.from_dict(question.to_dict()) == question
    legacy = {"code": "x", "label": "Nhãn", "datatype": "string"}
    assert QuestionSpec.from_dict(legacy).label_en == ""
    roads = next(c for c in client.get("/api/v1/reports/categories").json() if c["code"] == "roads")
    damage = roads["questions"][0]
    assert (damage["label"], damage["label_en"]) == ("Loại hư hỏng", "Damage")
    assert damage["values"][0] == ["pothole", "Ổ gà"]
    assert damage["values_en"][0] == ["pothole", "Pothole"]


def test_sync_updates_and_deactivates(world: World) -> None:
    s = world.session
    extra = CategorySpec(
        "flood_gate",
        "Cống ngăn triều",
        "Tidal gate",
        sla_hours=4,
        urgent=True,
        questions=(QuestionSpec("gate", "Tên cống", Datatype.STRING, required=True),),
        sector="agri",
    )
    assert sync_categories(s, [*collect_specs(), extra]) == 16
    s.commit()
    row = s.get(Category, "flood_gate")
    assert row is not None
    assert row.active
    assert row.urgent
    assert row.questions[0]["code"] == "gate"
    sync_categories(s, collect_specs())
    s.commit()
    s.refresh(row)
    assert row.active is False  # no longer declared: kept for old cases, not offered
    assert "flood_gate" not in [c["code"] for c in world_categories(s)]


def world_categories(session: Any) -> list[dict[str, Any]]:
    return [{"code": c.code} for c in session.scalars(select(Category).where(Category.active.is_(True)))]


def test_validate_answers_all_types() -> None:
    questions = [
        QuestionSpec("s", "s", Datatype.STRING, required=True).to_dict(),
        QuestionSpec("n", "n", Datatype.NUMBER).to_dict(),
        QuestionSpec("d", "d", Datatype.DATE).to_dict(),
        QuestionSpec("t", "t", Datatype.TEXT).to_dict(),
        QuestionSpec("one", "one", Datatype.SINGLEVALUELIST, values=(("a", "A"), ("b", "B"))).to_dict(),
        QuestionSpec("many", "many", Datatype.MULTIVALUELIST, values=(("a", "A"), ("b", "B"))).to_dict(),
    ]
    cleaned = validate_answers(
        questions,
        {"s": " Cafe\u0301 ", "n": "3", "d": "2026-02-17", "t": "dài", "one": "a", "many": ["b", "a", "b"]},
    )
    assert cleaned == {"s": "Café", "n": 3, "d": "2026-02-17", "t": "dài", "one": "a", "many": ["b", "a"]}
    with pytest.raises(Invalid) as info:
        validate_answers(questions, {"n": True, "d": "17/02", "one": "c", "many": "z"})
    assert set(info.value.details) == {"s", "n", "d", "one", "many"}


def test_writes_emit_outbox_events(world: World) -> None:
    case = world.submit()
    perform(
        world.session, world.settings, world.actor("officer_a"), case, ActionRequest(CaseAction.ACKNOWLEDGE)
    )
    world.session.commit()
    events = world.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
    subjects = [e.subject for e in events]
    assert "cases.created" in subjects
    assert "cases.transitioned" in subjects
    moved = next(e for e in events if e.subject == "cases.transitioned")
    assert moved.payload["ref"] == case.ref
    assert moved.payload["to"] == "acknowledged"
    assert "phone" not in str([e.payload for e in events])


def test_public_list_query_count_does_not_grow(world: World, client: TestClient, app: Any) -> None:
    def queries_for(url: str) -> int:
        # only this request's statements (tests/kit/queries.py): the event consumers work in the background
        return get_counted(client, url)[1].count

    body = {"category": "lighting", "lat": A_POINT[0], "lon": A_POINT[1]}
    client.post("/api/v1/reports", json=body)
    urls = ("/api/v1/reports/public", "/open311/v2/requests.json")
    for url in urls:  # warm up: the first request may open a connection (dialect set-up queries)
        queries_for(url)
    few = {u: queries_for(u) for u in urls}
    for _ in range(6):
        client.post("/api/v1/reports", json=body)
    many = {u: queries_for(u) for u in few}
    assert many == few

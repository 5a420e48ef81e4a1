"""Events as places: the demo calendar is dated from today, valid against its type, listed by the places API
for anyone, idempotent, and an event leaves the current list the day after it ends. Both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.places.models import Place
from cityops.sectors.public_services.demo import demo_events, load_events

NOW = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)


def test_demo_events_are_dated_from_today() -> None:
    body = demo_events(NOW)
    props = [f["properties"] for f in body["features"]]
    assert len(props) == 6
    first = props[0]
    assert first["start_date"] == "2026-12-11"
    assert first["valid_to"] == "2026-12-12"
    assert {p["category"] for p in props} == {"vaccination", "festival", "enrolment"}
    assert all(p["end_date"] >= p["start_date"] for p in props)


def test_events_load_once_and_are_listed(session: Session, client: TestClient) -> None:
    console = Console(record=True, width=200)
    load_events(session, console)
    session.commit()
    load_events(session, console)
    session.commit()
    text = console.export_text()
    assert "6 were created, 0 updated, 0 unchanged, 0 rejected" in text
    assert "0 were created, 0 updated, 6 unchanged, 0 rejected" in text
    r = client.get("/api/v1/places", params={"type": "public_event", "limit": 50})
    assert r.status_code == 200
    items = r.json()["items"]
    assert len(items) == 6
    assert all(i["demo"] for i in items)
    festival = next(i for i in items if i["attributes"]["category"] == "festival")
    assert festival["attributes"]["start_date"] >= datetime.now(UTC).date().isoformat()


def test_an_event_leaves_the_current_list_after_it_ends(session: Session, client: TestClient) -> None:
    load_events(session, Console(quiet=True))
    session.commit()
    first = session.scalars(select(Place).where(Place.external_id == "ev-tiem-chung-tan-an")).one()
    assert first.valid_to is not None
    after = first.valid_to + timedelta(days=1)
    current = client.get(
        "/api/v1/places", params={"type": "public_event", "at": after.isoformat(), "limit": 50}
    )
    assert "ev-tiem-chung-tan-an" not in {i["external_id"] for i in current.json()["items"]}
    before = client.get(
        "/api/v1/places", params={"type": "public_event", "at": first.valid_to.isoformat(), "limit": 50}
    )
    assert "ev-tiem-chung-tan-an" not in {
        i["external_id"] for i in before.json()["items"]
    }  # valid_to exclusive
    on_the_day = (first.valid_to - timedelta(days=1)).isoformat()
    during = client.get("/api/v1/places", params={"type": "public_event", "at": on_the_day, "limit": 50})
    assert "ev-tiem-chung-tan-an" in {i["external_id"] for i in during.json()["items"]}

"""Indicator fixtures: the declarations synced into the test database, cases and roll-ups built by hand,
and real events read back from the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.events.bus import Event
from cityops.events.models import OutboxEvent
from cityops.indicators.registry import Registry, sync
from cityops.reports import integrations
from cityops.reports.models import Case, Category

_seq = iter(range(1, 1_000_000))


@pytest.fixture
def registry(session: Session) -> Registry:
    """Every declaration synced (the app does it at start-up outside the test environment)."""
    reg = sync(session)
    session.commit()
    return reg


@pytest.fixture
def make_case(session: Session) -> Callable[..., Case]:
    """``make_case(submitted_at, area_id=None, emit=False, **columns)``: a visible case (flushed); with
    ``emit`` a real ``cases.created`` event goes into the outbox with it."""
    if session.get(Category, "ind.test") is None:
        session.add(Category(code="ind.test", name_vi="Thử", name_en="Test"))
        session.flush()

    def make(submitted_at: datetime, area_id: int | None = None, *, emit: bool = False, **kw: Any) -> Case:
        n = next(_seq)
        values: dict[str, Any] = {
            "token_hash": f"{n:064d}",
            "category_code": "ind.test",
            "submitted_at": submitted_at,
            "updated_at": submitted_at,
            "state": "submitted",
            "area_id": area_id,
        }
        values.update(kw)
        case = Case(**values)
        session.add(case)
        session.flush()
        if emit:
            integrations.emit(session, "cases.created", {"id": case.id, "area_id": area_id})
        return case

    return make


def outbox_events(session: Session) -> list[Event]:
    """The events committed to the outbox, as the relay would publish them."""
    rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
    return [Event(r.subject, r.payload, id=r.event_id, occurred_at=r.occurred_at) for r in rows]

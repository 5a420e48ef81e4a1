"""``cityops events status|relay|prune`` against a real database (both backends)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import typer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cityops.clock import utcnow
from cityops.events.cli import events_cli
from cityops.events.models import OutboxEvent
from cityops.events.outbox import emit
from cityops.settings import Settings


@pytest.fixture
def run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("CITYOPS_BUS", "memory")
    return CliRunner()


def app() -> typer.Typer:
    root = typer.Typer()
    root.add_typer(events_cli, name="events")
    return root


def test_status_relay_and_prune(run: CliRunner, sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        emit(s, "cases.created", {"case_id": 1})
        emit(s, "alerts.opened", {"alert_id": 2})
        s.commit()

    status = run.invoke(app(), ["events", "status"])
    assert status.exit_code == 0, status.output
    assert "pending" in status.output
    assert "cases.created" in status.output  # the oldest pending event

    relayed = run.invoke(app(), ["events", "relay"])
    assert relayed.exit_code == 0, relayed.output
    assert "Published 2 event(s); 0 still pending." in relayed.output
    with sessions() as s:
        assert all(r.published_at is not None for r in s.scalars(select(OutboxEvent)))
        s.execute(update(OutboxEvent).values(published_at=utcnow() - timedelta(days=30)))
        s.commit()

    pruned = run.invoke(app(), ["events", "prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "Pruned 2 published event(s)." in pruned.output
    with sessions() as s:
        assert list(s.scalars(select(OutboxEvent))) == []


def test_relay_exits_1_when_events_stay_pending(
    run: CliRunner, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions() as s:
        emit(s, "cases.created", {"case_id": 1})
        s.commit()
    monkeypatch.setenv("CITYOPS_BUS", "nats")
    monkeypatch.setenv("CITYOPS_NATS_URL", "nats://127.0.0.1:1")
    result = run.invoke(app(), ["events", "relay"])
    assert result.exit_code == 1
    assert "cannot reach NATS" in " ".join(result.output.split())
    with sessions() as s:
        (row,) = s.scalars(select(OutboxEvent))
        assert row.published_at is None  # nothing lost


def test_a_bad_setting_exits_2(run: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_OUTBOX_RETENTION_HOURS", "-1")
    result = run.invoke(app(), ["events", "status"])
    assert result.exit_code == 2
    assert "CITYOPS_OUTBOX_RETENTION_HOURS" in " ".join(result.output.split())

"""``cityops sensing`` commands against the test database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.sensing.cli import sensing_cli
from cityops.sensing.models import ObservationRollup
from cityops.sensing.storage import ObservationIn, ingest_observations
from cityops.settings import Settings
from tests.sensing.test_storage import make_datastream


def test_latest_rebuild_and_partitions(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, datetime(2026, 3, 1, tzinfo=UTC), 4.25)])
    session.execute(delete(ObservationRollup))
    session.commit()
    runner = CliRunner()
    out = runner.invoke(sensing_cli, ["latest"])
    assert out.exit_code == 0, out.output
    assert "4.25" in out.output
    out = runner.invoke(sensing_cli, ["rebuild-rollups", str(ds.id)])
    assert out.exit_code == 0, out.output
    session.expire_all()
    assert len(session.scalars(select(ObservationRollup)).all()) == 3
    assert runner.invoke(sensing_cli, ["rebuild-rollups", "999999"]).exit_code == 1
    out = runner.invoke(sensing_cli, ["partitions", "--months-ahead", "1"])
    assert out.exit_code == 0, out.output
    expected = "4 partition" if settings.effective_database_url.startswith("postgresql") else "0 partition"
    assert expected in out.output

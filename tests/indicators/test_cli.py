"""``cityops indicators recompute``: rebuilds a range, refuses a bad one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.indicators.cli import indicators_cli
from cityops.indicators.models import IndicatorValue
from cityops.reports.models import Case
from tests.conftest import Backend
from tests.fixtures_areas import LoadedAreas


def test_recompute_a_range(
    session: Session,
    backend: Backend,
    tmp_path: Path,
    loaded_areas: LoadedAreas,
    make_case: Callable[..., Case],
) -> None:
    make_case(datetime(2026, 2, 10, 3, tzinfo=UTC), loaded_areas.tan_an_ward_id)
    session.commit()
    runner = CliRunner()
    env = {"CITYOPS_DATABASE_URL": backend.url, "CITYOPS_ENV": "test", "COLUMNS": "200"}
    base = ["recompute", "--data-dir", str(tmp_path)]
    args = [*base, "--from", "2026-02-01", "--to", "2026-02-28", "--indicator", "cases.received"]
    result = runner.invoke(indicators_cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "value(s) written" in result.output
    session.expire_all()
    rows = session.scalars(
        select(IndicatorValue).where(IndicatorValue.indicator_code == "cases.received")
    ).all()
    assert {(r.area_id, r.period_start, r.value) for r in rows if r.value} == {
        (loaded_areas.tan_an_ward_id, date(2026, 2, 1), 1.0),
        (loaded_areas.province_id, date(2026, 2, 1), 1.0),
    }
    bad = runner.invoke(indicators_cli, [*base, "--from", "2026-03-01", "--to", "2026-02-01"], env=env)
    assert bad.exit_code == 2
    unknown = runner.invoke(
        indicators_cli, [*base, "--from", "2026-03-01", "--to", "2026-03-02", "--indicator", "x.y"], env=env
    )
    assert unknown.exit_code == 2

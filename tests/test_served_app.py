"""``cityops serve`` runs :func:`cityops.app.served_app`: the app plus a tuned cycle collector."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cityops.app import GC_THRESHOLDS, served_app


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_served_app_freezes_start_up_and_raises_thresholds(
    restored_gc: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    gc.unfreeze()
    app = served_app()
    assert gc.get_freeze_count() == 0  # nothing happens before start-up has run
    with TestClient(app) as client:
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
        assert client.get("/healthz").status_code == 200


def test_serve_command_runs_the_served_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from cityops.cli import cli as cli_app

    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(target=target, **kw))
    result = CliRunner().invoke(cli_app, ["serve", "--data-dir", str(tmp_path), "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["target"] == "cityops.app:served_app"
    assert seen["factory"] is True
    assert seen["port"] == 8123

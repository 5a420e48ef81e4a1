"""The benchmark harness's own logic (bench/): when latency sampling stops, what a figure that fails or a
peer that answers "error" leaves in the table, and the /proc CPU readings. No timing assertions: a fake
clock drives the sampling loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench import peer, run
from bench.server import cpu_seconds, process_tree


class FakeClient:
    """Answers every GET with 200 after ``seconds`` of fake time."""

    def __init__(self, clock: list[float], seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.calls = 0

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        self.calls += 1
        self.clock[0] += self.seconds
        return httpx.Response(200, json={"count": 1}, request=httpx.Request("GET", f"http://x{path}"))


def sample(seconds: float, **kw: Any) -> tuple[run.Timing, FakeClient]:
    clock = [0.0]
    client = FakeClient(clock, seconds)
    t = run.timed(client, "/x", clock=lambda: clock[0], **kw)  # type: ignore[arg-type]
    return t, client


def test_fast_endpoint_gets_all_its_repetitions() -> None:
    t, client = sample(0.01, reps=30, budget_s=4, cap_s=15)
    assert len(t.lat) == 30
    assert not t.capped
    assert client.calls == 31  # one warm-up, not counted


def test_budget_ends_sampling_once_five_are_in() -> None:
    t, _ = sample(1.0, reps=30, budget_s=4, cap_s=15)
    assert len(t.lat) == 5
    assert not t.capped
    assert "5 requests" in t.note()


def test_slow_endpoint_stops_at_the_cap_and_says_so() -> None:
    t, _ = sample(6.0, reps=30, budget_s=4, cap_s=15)
    assert len(t.lat) == 2
    assert t.capped
    rows = t.rows("slow thing", "sqlite", "< 20 ms", 20)
    assert rows[0].figure == "slow thing p50"
    assert rows[0].met is False
    assert "2 requests" in rows[0].note
    assert "time cap" in rows[0].note
    assert rows[1].figure == "slow thing p99"
    assert "of 2 requests" in rows[1].note


def test_guard_leaves_a_row_for_a_failed_figure() -> None:
    rows: list[run.Row] = []
    with run.guard(rows, "IOC summary", "postgresql"):
        raise httpx.HTTPStatusError(
            "500", request=httpx.Request("GET", "http://x"), response=httpx.Response(500)
        )
    assert len(rows) == 1
    assert rows[0].value is None
    assert rows[0].note.startswith("failed:")


def links_transport(links: list[str]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(201, json=links))


def test_post_batches_counts_created_rows() -> None:
    acked, _, errors = run.post_batches(
        "http://x/CreateObservations", [[b"[]"], [b"[]", b"[]"]], {}, links_transport(["a", "b"])
    )
    assert errors == []
    assert acked == 6


@pytest.mark.parametrize("links", [["error", "error"], ["a", "error"], []])
def test_post_batches_treats_error_links_as_a_failure(links: list[str]) -> None:
    acked, _, errors = run.post_batches("http://x/CreateObservations", [[b"[]"]], {}, links_transport(links))
    assert acked == 0
    assert len(errors) == 1
    assert errors[0].startswith("201 with")


def peer_results(monkeypatch: pytest.MonkeyPatch, results: list[peer.PeerResult]) -> list[run.Row]:
    monkeypatch.setattr(run, "prepare_peer", lambda work, backend, attempt: peer.PeerStore(work, {}))
    monkeypatch.setattr(peer, "measure", lambda *a, **k: results.pop(0))
    data_args = {"start": None, "ours": {"sqlite": 50_000.0}, "ours_cpu": {"sqlite": 20e-6}}
    return run.peer_rows(Path("/nonexistent"), {}, data_args, ["sqlite"], {}, [])


def test_a_failed_peer_run_is_tried_once_more(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = peer_results(
        monkeypatch,
        [peer.PeerResult(None, "not measured: peer answered 201 with 2 of 2 rows not created"),
         peer.PeerResult(5_000.0, "peer note", 80e-6)],
    )  # fmt: skip
    assert rows[0].value == 5_000.0
    assert "second attempt" in rows[0].note
    ratio = rows[1]
    assert ratio.ratio == pytest.approx(10.0)
    assert "ours 20 µs, peer 80 µs (4.0×)" in ratio.note


def test_a_peer_that_fails_twice_still_leaves_both_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    why = "not measured: peer server did not start"
    rows = peer_results(monkeypatch, [peer.PeerResult(None, why), peer.PeerResult(None, why)])
    assert [r.figure for r in rows] == [
        "peer: django-ogc-sensorthings CreateObservations",
        "STA dataArray ingest vs peer on the same store",
    ]
    assert rows[0].value is None
    assert rows[0].note == why
    assert rows[1].ratio is None
    assert why in rows[1].note


def test_cpu_seconds_and_process_tree_read_proc() -> None:
    sum(i * i for i in range(200_000))  # some CPU of our own
    assert cpu_seconds([os.getpid()]) > 0
    assert cpu_seconds([2**22 + 12345]) == 0  # no such process: nothing, no error
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in process_tree(os.getpid())
    finally:
        child.kill()
        child.wait()


def test_workers_option_reaches_cityops_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench import server

    seen: list[list[str]] = []

    class Proc:
        pid = os.getpid()
        returncode = None

        def poll(self) -> None:
            return None

    def popen(cmd: list[str], **kw: Any) -> Proc:
        seen.append(cmd)
        return Proc()

    monkeypatch.setattr(server.subprocess, "Popen", popen)
    monkeypatch.setattr(server.httpx, "get", lambda *a, **k: httpx.Response(200))
    monkeypatch.setattr(server.time, "sleep", lambda s: None)
    server.Server({}, tmp_path / "a.log", workers=3)
    server.Server({}, tmp_path / "b.log")
    assert seen[0][-2:] == ["--workers", "3"]
    assert "--workers" not in seen[1]  # left to CITYOPS_WORKERS (the MQTT figure's several processes)


def test_eviction_keeps_the_costly_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Quick checks at a small --scale must not push out the seed at the issue's sizes."""
    monkeypatch.setattr(run, "CACHE", tmp_path)
    keys = [f"k{i}" for i in range(9)]
    for age, key in enumerate(keys):  # k0 newest ... k8 oldest; k7 took long to seed
        meta = tmp_path / f"{key}.sqlite.json"
        meta.write_text(json.dumps({"seed_seconds": 70.0 if key == "k7" else 3.0}))
        (tmp_path / f"{key}.sqlite3").write_bytes(b"")
        os.utime(meta, (1e9 - age, 1e9 - age))
    run.evict("sqlite", 6)
    left = sorted(p.name.split(".")[0] for p in tmp_path.glob("*.sqlite.json"))
    assert left == ["k0", "k1", "k2", "k3", "k4", "k5", "k7"]
    assert not (tmp_path / "k8.sqlite3").exists()
    assert (tmp_path / "k7.sqlite3").exists()


def test_cache_migrated_in_place_is_stale_once_that_migration_is_edited(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A migration applied to a cached database and edited since means the cache must be seeded afresh."""
    monkeypatch.setattr(run, "CACHE", tmp_path)
    files = run.migration_files()
    rev = next(iter(files))
    meta = tmp_path / "k.sqlite.json"
    meta.write_text(json.dumps({"migrated_in_place": {rev: "0" * 16}}))
    assert run.migrate_cache("sqlite", "k", tmp_path) is False

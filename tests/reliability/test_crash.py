"""Crash safety: the server as a real process (``cityops serve``) under mixed load — report submissions with
``Idempotency-Key``, SensorThings ``CreateObservations`` dataArray batches, and Observations a device publishes
over MQTT (QoS 1) — is killed with SIGKILL at random moments, restarted, and every acknowledged request (an
HTTP 200/201, a broker PUBACK) must be stored exactly once; re-sending the unacknowledged ones (same
idempotency key, same phenomenon times) must not duplicate anything.

Graceful shutdown (SIGTERM) finishes in-flight requests: every request answered is stored; a connection
that broke without an answer (still queued in the listen backlog when the listener closed) was never
worked on, and goes in exactly once when re-sent; the shutdown runs to its end.

``CITYOPS_CRASH_ROUNDS`` sets the number of kill rounds (3 in ``make test``; ``make test-crash`` runs more).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func, select, text

from cityops.db import make_engine, make_sessionmaker
from cityops.identity.apikeys import create_api_key
from cityops.identity.models import ApiScope, Role, SessionKind
from cityops.identity.tokens import create_session
from cityops.identity.users import create_user
from cityops.models import metadata
from cityops.reports.categories import sync_categories
from cityops.sensing.models import Observation
from tests.alerts.support import make_station
from tests.conftest import BACKENDS, _create_pg_database, _drop_pg_database
from tests.services import MQTT_HOST, MQTT_PORT, require_mqtt, require_postgres

ROUNDS = int(os.environ.get("CITYOPS_CRASH_ROUNDS", "3"))
SERVE = [sys.executable, "-c", "from cityops.cli import main; main()", "serve"]
T0 = datetime(2026, 3, 1, tzinfo=UTC)
BATCH = 20  # observations per dataArray request
T_MQTT = datetime(2026, 9, 1, tzinfo=UTC)  # MQTT observations live in their own (past) time range


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    name: str
    url: str
    data_dir: Path
    engine: Engine
    token: str = ""
    device_key: str = ""
    datastream_id: int = 0


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A fresh database (its own, not the shared test one) with categories, a citizen and a station."""
    name = request.param
    if name == "postgresql":
        require_postgres()
        url = _create_pg_database()
    else:
        url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    engine = make_engine(url)
    metadata.create_all(engine)
    t = Target(name, url, tmp_path / "data", engine)
    with make_sessionmaker(engine)() as s:
        sync_categories(s)
        user = create_user(s, role=Role.CITIZEN, username="crash", full_name="Crash", audit_label="test")
        s.flush()
        _, t.token = create_session(s, user, ttl_minutes=600, kind=SessionKind.BEARER)
        ds = make_station(s, "Trạm thử", "salinity")
        t.datastream_id = ds.id
        _, t.device_key = create_api_key(
            s, name="station", scopes=[ApiScope.INGEST], thing_id=ds.thing_id, audit_label="test"
        )
        s.commit()
    try:
        yield t
    finally:
        engine.dispose()
        if name == "postgresql":
            _drop_pg_database(url)


class Server:
    def __init__(self, target: Target, log_level: str = "WARNING", mqtt_client_id: str | None = None) -> None:
        self.target = target
        self.mqtt_client_id = mqtt_client_id
        self.log_level = log_level
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = target.data_dir.parent / f"server-{self.port}.log"
        self.log = self.log_path.open("ab")

    def start(self) -> None:
        env = {
            **os.environ,
            "CITYOPS_ENV": "test",
            "CITYOPS_DATABASE_URL": self.target.url,
            "CITYOPS_DATA_DIR": str(self.target.data_dir),
            "CITYOPS_LOG_LEVEL": self.log_level,
        }
        if self.mqtt_client_id:
            env["CITYOPS_MQTT_URL"] = f"mqtt://{MQTT_HOST}:{MQTT_PORT}"
            env["CITYOPS_MQTT_CLIENT_ID"] = self.mqtt_client_id
            # a topic space of its own: parallel tests (and backends) share the broker
            env["CITYOPS_MQTT_TOPIC_PREFIX"] = f"{self.mqtt_client_id}/"
        self.proc = subprocess.Popen(
            [*SERVE, "--port", str(self.port), "--data-dir", str(self.target.data_dir)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "the server exited at start (see server-*.log)"
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the server did not start")

    def signal(self, sig: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@dataclass
class Ledger:
    """What was sent, and what the server acknowledged."""

    reports_acked: set[str] = field(default_factory=set)
    reports_pending: set[str] = field(default_factory=set)
    batches_acked: set[int] = field(default_factory=set)
    batches_pending: set[int] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cut_off: list[tuple[str, Any]] = field(default_factory=list)  # connections that broke without an answer
    refused: list[str] = field(default_factory=list)  # answers other than 200/201 (must stay empty)


def _report(server: Server, key: str) -> httpx.Response:
    return httpx.post(
        f"{server.base}/api/v1/reports",
        json={"category": "lighting", "description": f"crash {key}", "lat": 10.5, "lon": 106.4},
        headers={
            "Authorization": f"Bearer {server.target.token}",
            "Idempotency-Key": key,
            "Connection": "close",
        },
        timeout=30,
    )


def _batch_times(n: int) -> list[str]:
    return [(T0 + timedelta(minutes=n * BATCH + i)).isoformat() for i in range(BATCH)]


def _batch(server: Server, n: int) -> httpx.Response:
    body = [
        {
            "Datastream": {"@iot.id": server.target.datastream_id},
            "components": ["phenomenonTime", "result"],
            "dataArray": [[t, float(i % 7)] for i, t in enumerate(_batch_times(n))],
        }
    ]
    return httpx.post(
        f"{server.base}/sta/v1.1/CreateObservations",
        json=body,
        headers={"X-API-Key": server.target.device_key, "Connection": "close"},
        timeout=30,
    )


def _send(server: Server, ledger: Ledger, kind: str, item: Any) -> None:
    acked, pending = (
        (ledger.reports_acked, ledger.reports_pending)
        if kind == "report"
        else (ledger.batches_acked, ledger.batches_pending)
    )
    with ledger.lock:
        pending.add(item)
    try:
        resp = _report(server, item) if kind == "report" else _batch(server, item)
    except httpx.ConnectError:
        return  # never reached the server; stays pending
    except httpx.HTTPError:
        with ledger.lock:
            ledger.cut_off.append((kind, item))
        return
    if resp.status_code in (200, 201):
        with ledger.lock:
            pending.discard(item)
            acked.add(item)
    else:
        with ledger.lock:
            ledger.refused.append(f"{kind} {item}: {resp.status_code} {resp.text[:200]}")


def _load(server: Server, ledger: Ledger, stop: threading.Event, counter: Iterator[int], worker: int) -> None:
    while not stop.is_set():
        n = next(counter)
        if n % 2:
            _send(server, ledger, "report", f"crash-test-key-{n:08d}-{worker}")
        else:
            _send(server, ledger, "batch", n)


def _stored_count(target: Target, kind: str, item: Any) -> int:
    with target.engine.connect() as conn:
        if kind == "report":
            stmt = text("SELECT count(*) FROM cases WHERE description = :d")
            return int(conn.execute(stmt, {"d": f"crash {item}"}).scalar_one())
        return int(
            conn.execute(
                select(func.count())
                .select_from(Observation)
                .where(
                    Observation.datastream_id == target.datastream_id,
                    Observation.phenomenon_time >= T0 + timedelta(minutes=item * BATCH),
                    Observation.phenomenon_time < T0 + timedelta(minutes=(item + 1) * BATCH),
                )
            ).scalar_one()
        )


def _check_stored(target: Target, ledger: Ledger) -> None:
    with target.engine.connect() as conn:
        for key in ledger.reports_acked:
            count = conn.execute(
                text("SELECT count(*) FROM cases WHERE description = :d"), {"d": f"crash {key}"}
            )
            assert count.scalar_one() == 1, key
        dupes = conn.execute(
            text("SELECT description, count(*) FROM cases GROUP BY description HAVING count(*) > 1")
        ).all()
        assert dupes == [], dupes
        times = {t for n in ledger.batches_acked for t in _batch_times(n)}
        stored = conn.execute(
            select(func.count())
            .select_from(Observation)
            .where(Observation.datastream_id == target.datastream_id)
        ).scalar_one()
        assert stored >= len(times)
        # the (datastream, phenomenon_time) key is unique, so a stored batch is there exactly once
        for n in ledger.batches_acked:
            got = conn.execute(
                select(func.count())
                .select_from(Observation)
                .where(
                    Observation.datastream_id == target.datastream_id,
                    Observation.phenomenon_time >= T0 + timedelta(minutes=n * BATCH),
                    Observation.phenomenon_time < T0 + timedelta(minutes=(n + 1) * BATCH),
                )
            ).scalar_one()
            assert got == BATCH, (n, got)


class Device:
    """A station publishing Observations over MQTT (QoS 1); acknowledged = the broker's PUBACK."""

    def __init__(self, datastream_id: int, prefix: str) -> None:
        self.topic = f"{prefix}v1.1/Datastreams({datastream_id})/Observations"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"crash-device-{uuid.uuid4().hex[:8]}"
        )
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()
        self.acked: set[int] = set()
        self.sent = 0

    def publish(self, n: int) -> None:
        body = json.dumps({"phenomenonTime": (T_MQTT + timedelta(seconds=n)).isoformat(), "result": 1.5})
        info = self.client.publish(self.topic, body, qos=1)
        self.sent = max(self.sent, n + 1)
        info.wait_for_publish(timeout=10)
        if info.is_published():
            self.acked.add(n)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _publish(device: Device, stop: threading.Event, start: int) -> None:
    n = start
    while not stop.is_set():
        device.publish(n)
        n += 1
        time.sleep(0.005)


def _mqtt_stored(target: Target, device: Device) -> tuple[int, int]:
    """(acknowledged MQTT observations stored, all MQTT observations stored)."""
    with target.engine.connect() as conn:
        times = conn.execute(
            select(Observation.phenomenon_time).where(
                Observation.datastream_id == target.datastream_id, Observation.phenomenon_time >= T_MQTT
            )
        ).scalars()
        stored = {round((t.replace(tzinfo=UTC) - T_MQTT).total_seconds()) for t in times}
        total = conn.execute(
            select(func.count())
            .select_from(Observation)
            .where(Observation.datastream_id == target.datastream_id, Observation.phenomenon_time >= T_MQTT)
        ).scalar_one()
    return len(device.acked & stored), int(total)


def _wait_for_mqtt(target: Target, device: Device, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while _mqtt_stored(target, device)[0] < len(device.acked) and time.monotonic() < deadline:
        time.sleep(0.2)
    got, total = _mqtt_stored(target, device)
    assert got == len(device.acked), f"{len(device.acked) - got} acknowledged MQTT observations lost"
    assert total <= device.sent  # each (datastream, phenomenonTime) stored once


def test_sigkill_under_load_loses_and_duplicates_nothing(target: Target) -> None:
    require_mqtt()
    rng = random.Random(7)
    ledger = Ledger()
    client_id = f"cityops-crash-{uuid.uuid4().hex[:8]}"
    server = Server(target, mqtt_client_id=client_id)
    counter = iter(range(1, 10**9))
    survived = 0
    device = Device(target.datastream_id, prefix=f"{client_id}/")
    published = 0
    try:
        # the first start creates the server's persistent MQTT session; from then on the broker keeps
        # what the device publishes while the server is down
        server.start()
        device.publish(0)
        _wait_for_mqtt(target, device)
        server.signal(signal.SIGKILL)
        published = 1
        for _ in range(ROUNDS):
            server.start()
            stop = threading.Event()
            workers = [
                threading.Thread(target=_load, args=(server, ledger, stop, counter, w), daemon=True)
                for w in range(4)
            ]
            workers.append(threading.Thread(target=_publish, args=(device, stop, published), daemon=True))
            for w in workers:
                w.start()
            time.sleep(rng.uniform(0.3, 1.5))
            server.signal(signal.SIGKILL)
            stop.set()
            for w in workers:
                w.join(timeout=60)
            published = device.sent
            server.start()
            # re-send what was never acknowledged: same idempotency key, same phenomenon times
            for key in sorted(ledger.reports_pending):
                _send(server, ledger, "report", key)
            for n in sorted(ledger.batches_pending):
                _send(server, ledger, "batch", n)
            assert ledger.refused == []
            assert not ledger.reports_pending, ledger.reports_pending
            assert not ledger.batches_pending, ledger.batches_pending
            _check_stored(target, ledger)
            _wait_for_mqtt(target, device)  # the broker redelivers what the killed server never acknowledged
            server.signal(signal.SIGKILL)
            survived += 1
    finally:
        server.stop()
        device.close()
    assert survived == ROUNDS
    assert ledger.reports_acked
    assert ledger.batches_acked
    assert len(device.acked) > 1
    print(
        f"\ncrash safety ({target.name}): {survived} SIGKILL rounds survived, "
        f"{len(ledger.reports_acked)} reports, {len(ledger.batches_acked)} batches and {len(device.acked)} MQTT "
        "observations acknowledged, each stored once"
    )


def test_sigterm_drains_in_flight_requests(target: Target) -> None:
    ledger = Ledger()
    server = Server(target, log_level="INFO")
    counter = iter(range(1, 10**9))
    try:
        server.start()
        stop = threading.Event()
        workers = [
            threading.Thread(target=_load, args=(server, ledger, stop, counter, w), daemon=True)
            for w in range(4)
        ]
        for w in workers:
            w.start()
        while len(ledger.reports_acked) + len(ledger.batches_acked) < 8:
            time.sleep(0.05)
        code = server.signal(signal.SIGTERM)
        stop.set()
        for w in workers:
            w.join(timeout=60)
    finally:
        server.stop()
    # uvicorn re-raises the signal after its graceful shutdown, so the status is "terminated by SIGTERM";
    # the log shows the shutdown ran to the end (connections drained, application shutdown hooks done)
    assert code in (0, -signal.SIGTERM)
    log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "Application shutdown complete" in log, log[-2000:]
    assert "Finished server process" in log
    assert ledger.refused == []
    _check_stored(target, ledger)
    # a connection that broke without an answer (one still queued in the listen backlog when the
    # listener closed) must never have been worked on: the server does not drop answers it owes
    for kind, item in ledger.cut_off:
        assert _stored_count(target, kind, item) == 0, (kind, item)
    # and everything not acknowledged goes in exactly once when re-sent after a restart
    server = Server(target)
    try:
        server.start()
        for key in sorted(ledger.reports_pending):
            _send(server, ledger, "report", key)
        for n in sorted(ledger.batches_pending):
            _send(server, ledger, "batch", n)
    finally:
        server.stop()
    assert not ledger.reports_pending
    assert not ledger.batches_pending
    _check_stored(target, ledger)

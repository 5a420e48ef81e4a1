"""MQTT ingest through Mosquitto (127.0.0.1:1883): one observation per message, QoS 1, messages/s stored.

The server is restarted with MQTT on (its own client id and topic prefix, so other users of the shared broker
are not disturbed); a paho publisher in this process sends N messages as fast as the broker takes them, and
the figure is N divided by the time from the first publish until the N-th row is in the database.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

HOST, PORT = "127.0.0.1", int(os.environ.get("CITYOPS_BENCH_MQTT_PORT", "1883"))
TARGET = "≥ 30,000 msg/s"
WINDOW = 400


def _outcomes(url: str) -> dict[str, int]:
    """The bridge's ``cityops_mqtt_messages_total`` by outcome, from ``/metrics``."""
    import httpx

    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("cityops_mqtt_messages_total{"):
            labels, _, value = line.rpartition(" ")
            key = ",".join(p.split("=")[1].strip('"') for p in labels[labels.index("{") + 1 : -1].split(","))
            out[key] = out.get(key, 0) + int(float(value))
    return out


def unavailable() -> str | None:
    try:
        import cityops.sensing.mqtt  # noqa: F401
    except ImportError:
        return "MQTT ingest (cityops.sensing.mqtt) not present"
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            pass
    except OSError:
        return f"no MQTT broker at {HOST}:{PORT}"
    return None


def measure(
    env: dict[str, str],
    server_cls: Any,
    work: Path,
    prof: dict[str, Any],
    backend: str,
    sa_url: str,
    ds_id: int,
    row: Any,
    spy: Any = None,
) -> tuple[Any, float | None]:
    """Returns (the Row, the MQTT server's peak RSS in MB)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from cityops.db import make_engine, make_sessionmaker
    from cityops.sensing.models import Observation

    prefix = f"bench{os.getpid()}{backend}/"
    env = {
        **env,
        "CITYOPS_MQTT_URL": f"mqtt://{HOST}:{PORT}",
        "CITYOPS_MQTT_CLIENT_ID": f"cityops-bench-{os.getpid()}-{backend}",
        "CITYOPS_MQTT_TOPIC_PREFIX": prefix,
    }
    n = prof["mqtt_messages"]
    engine = make_engine(sa_url)
    sessions = make_sessionmaker(engine)

    def stored() -> int:
        with sessions() as s:
            return int(s.scalar(select(func.count()).where(Observation.datastream_id == ds_id)) or 0)

    server = server_cls(env, work / f"{backend}-mqtt-server.log")
    try:
        time.sleep(2)  # the bridge connects and subscribes after startup
        before = stored()
        start = datetime(2026, 11, 10, tzinfo=UTC)
        topic = f"{prefix}v1.1/Datastreams({ds_id})/Observations"
        bodies = [
            json.dumps(
                {"phenomenonTime": (start + timedelta(seconds=k)).isoformat(), "result": 20 + (k % 50) / 10}
            ).encode()
            for k in range(n)
        ]
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{os.getpid()}")
        client.max_inflight_messages_set(1000)
        client.max_queued_messages_set(0)
        acked = threading.Semaphore(0)
        client.on_publish = lambda *_a: acked.release()
        client.connect(HOST, PORT)
        client.loop_start()
        sampling = spy.record(server.proc.pid, f"{backend}-mqtt") if spy else contextlib.nullcontext()
        sampling.__enter__()
        t0 = time.perf_counter()
        # Paced: at most WINDOW messages published but not yet stored, so the broker's per-client queue
        # (Mosquitto's max_queued_messages, 1000 by default, drops QoS 1 messages beyond it) never overflows.
        sent = done = 0
        last_progress = t0
        deadline = t0 + prof["mqtt_wait_seconds"]
        while done < n and time.perf_counter() < deadline:
            if sent < n and sent - done < WINDOW:
                for b in bodies[sent : min(n, sent + 100)]:
                    client.publish(topic, b, qos=1)
                sent = min(n, sent + 100)
                continue
            time.sleep(0.01)
            now_done = stored() - before
            if now_done > done:
                done, last_progress = now_done, time.perf_counter()
        for _ in range(sent):
            acked.acquire(timeout=1)
        sampling.__exit__(None, None, None)
        client.loop_stop()
        client.disconnect()
        elapsed = last_progress - t0
        rate = done / elapsed
        outcomes = _outcomes(server.url)
        note = f"{done:,} of {n:,} stored in {elapsed:.1f} s, publisher paced to ≤ {WINDOW} unstored"
        if done < n:
            note += f"; stopped after {prof['mqtt_wait_seconds']} s"
        if outcomes:
            note += f"; bridge counted {outcomes}"
        return (
            row("MQTT QoS 1, one observation per message", backend, rate, "msg/s", target=TARGET,
                met=rate >= 30_000, note=note),
            server.peak_rss_mb(),
        )  # fmt: skip
    finally:
        server.stop()
        engine.dispose()

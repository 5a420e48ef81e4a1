"""MQTT ingest through Mosquitto: one observation per message, QoS 1, messages/s stored.

The run starts its own Mosquitto (``mosquitto -c`` with a config in a temp dir, on a free port) with the
limits a production broker for cityops should have (and, started as root, stays the current user, so it
may write its persistence file into the temp dir) (docs/deployment.md, "Mosquitto"): the shared broker's
defaults (20 messages in flight per client, 1000 queued, the rest dropped) would measure the broker's
configuration, not cityops. ``CITYOPS_BENCH_MQTT_PORT`` points the run at an existing broker instead.

The server is restarted with MQTT on; a publisher in a thread of this process (MQTT 3.1.1 over a plain socket,
pre-encoded PUBLISH packets, so the publisher is not what limits the figure) sends N messages with at most
``WINDOW`` unacknowledged by the broker, and the figure is N divided by the time from the first publish until
the N-th row is in the database.

``processes`` (``CITYOPS_BENCH_MQTT_PROCESSES``, default 1) runs the server with that many workers
(``cityops serve --workers N``) in one MQTT share group, so they split the messages (docs/deployment.md,
"Scaling MQTT ingest"); the server CPU is then that of all its processes.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from bench.server import cpu_seconds as server_cpu_seconds
from bench.server import end_process, process_tree

HOST = "127.0.0.1"
EXTERNAL_PORT = os.environ.get("CITYOPS_BENCH_MQTT_PORT")
TARGET = "≥ 30,000 msg/s"
WINDOW = 5000  # messages published but not yet acknowledged by the broker
PROCESSES = int(os.environ.get("CITYOPS_BENCH_MQTT_PROCESSES") or 1)
MIN_MESSAGES = 50_000  # fewer pass in a blink at the target rate; the quick profile's count is raised to this
BROKER_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
user {user}
persistence true
persistence_location {dir}/
max_inflight_messages 1000
max_queued_messages 100000
log_dest stderr
log_type error
log_type warning
"""


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
    if EXTERNAL_PORT:
        try:
            with socket.create_connection((HOST, int(EXTERNAL_PORT)), timeout=1):
                pass
        except OSError:
            return f"no MQTT broker at {HOST}:{EXTERNAL_PORT}"
    elif shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        return "no mosquitto executable to start a broker"
    return None


@contextlib.contextmanager
def broker(work: Path) -> Iterator[tuple[int, int | None]]:
    """A Mosquitto of the run's own (or the one at ``CITYOPS_BENCH_MQTT_PORT``); yields (port, its pid)."""
    if EXTERNAL_PORT:
        yield int(EXTERNAL_PORT), None
        return
    from bench.server import free_port

    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="cityops-bench-mosquitto-") as tmp:
        conf = Path(tmp) / "mosquitto.conf"
        conf.write_text(BROKER_CONF.format(port=port, dir=tmp, user=getpass.getuser()))
        log = (work / "mosquitto.log").open("w")
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection((HOST, port), timeout=0.5):
                        break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"mosquitto did not start; see {work / 'mosquitto.log'}") from None
                    time.sleep(0.05)
            yield port, proc.pid
        finally:
            end_process(proc, timeout=10)
            log.close()


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """A QoS 1 PUBLISH packet of MQTT 3.1.1 (§3.3), encoded in advance so the publisher is not the limit."""
    raw = topic.encode()
    body = struct.pack("!H", len(raw)) + raw + struct.pack("!H", packet_id) + payload
    n, length = len(body), bytearray()
    while True:  # the remaining length as a variable byte integer (§2.2.3)
        n, byte = divmod(n, 128)
        length.append(byte | (0x80 if n else 0))
        if not n:
            return bytes([0x32]) + bytes(length) + body


class Publisher(threading.Thread):
    """Sends pre-encoded QoS 1 PUBLISH packets (MQTT 3.1.1), at most ``WINDOW`` unacknowledged."""

    def __init__(self, port: int, topic: str, bodies: list[bytes]) -> None:
        super().__init__(daemon=True)
        self.packets = [publish_packet(topic, b, k % 65535 + 1) for k, b in enumerate(bodies)]
        self.acked = 0
        self.error: BaseException | None = None
        self.sock = socket.create_connection((HOST, port))
        client_id = f"bench-pub-{os.getpid()}".encode()
        body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(client_id)) + client_id
        self.sock.sendall(bytes([0x10, len(body)]) + body)
        connack = self.sock.recv(4)
        if len(connack) < 4 or connack[3] != 0:
            raise RuntimeError(f"the broker refused the bench publisher: {connack!r}")

    def run(self) -> None:
        try:
            sent, n, pending = 0, len(self.packets), b""
            self.sock.settimeout(30)
            while self.acked < n:
                if sent < n and sent - self.acked < WINDOW:
                    chunk = min(n, sent + 500, self.acked + WINDOW)
                    self.sock.sendall(b"".join(self.packets[sent:chunk]))
                    sent = chunk
                    self.sock.setblocking(False)
                    with contextlib.suppress(BlockingIOError):
                        pending += self.sock.recv(1 << 16)
                    self.sock.settimeout(30)
                else:
                    data = self.sock.recv(1 << 16)
                    if not data:
                        raise RuntimeError("the broker closed the bench publisher's connection")
                    pending += data
                whole = len(pending) // 4  # the broker only sends PUBACKs (4 bytes each) here
                self.acked += whole
                pending = pending[whole * 4 :]
        except BaseException as exc:  # reported by measure()
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                self.sock.sendall(b"\xe0\x00")
            self.sock.close()


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
    processes: int | None = None,
) -> tuple[Any, float | None]:
    """Returns (the Row, the MQTT server's peak RSS in MB). ``processes``: server workers sharing the
    ingest (default ``CITYOPS_BENCH_MQTT_PROCESSES``, else 1)."""
    n = processes or PROCESSES
    with broker(work) as (port, broker_pid):
        return _measure(port, broker_pid, env, server_cls, work, prof, backend, sa_url, ds_id, row, spy, n)


def cpu_seconds(pid: int | None, tree: bool = False) -> float:
    """User + system CPU time of a process (all its threads) so far, from /proc; 0 if unknown. ``tree``:
    with its living descendants (uvicorn's workers)."""
    if pid is None:
        return 0.0
    return server_cpu_seconds(process_tree(pid) if tree else [pid])


def _measure(
    port: int,
    broker_pid: int | None,
    env: dict[str, str],
    server_cls: Any,
    work: Path,
    prof: dict[str, Any],
    backend: str,
    sa_url: str,
    ds_id: int,
    row: Any,
    spy: Any = None,
    processes: int = 1,
) -> tuple[Any, float | None]:
    from cityops.db import make_engine, make_sessionmaker
    from cityops.sensing.models import Observation

    prefix = f"bench{os.getpid()}{backend}/"
    env = {
        **env,
        "CITYOPS_MQTT_URL": f"mqtt://{HOST}:{port}",
        "CITYOPS_MQTT_CLIENT_ID": f"cityops-bench-{os.getpid()}-{backend}",
        "CITYOPS_MQTT_TOPIC_PREFIX": prefix,
    }
    if processes > 1:
        # Every worker subscribes in one share group (the setting is read from the environment for now).
        env.update({"CITYOPS_WORKERS": str(processes), "CITYOPS_MQTT_SHARE_GROUP": "bench"})
    n = max(prof["mqtt_messages"], MIN_MESSAGES)
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
            orjson.dumps(
                {"phenomenonTime": (start + timedelta(seconds=k)).isoformat(), "result": 20 + (k % 50) / 10}
            )
            for k in range(n)
        ]
        publisher = Publisher(port, topic, bodies)
        sampling = spy.record(server.proc.pid, f"{backend}-mqtt") if spy else contextlib.nullcontext()
        with sampling:
            cpu0 = cpu_seconds(server.proc.pid, tree=True), cpu_seconds(broker_pid)
            t0 = time.perf_counter()
            publisher.start()
            done = 0
            last_progress = t0
            deadline = t0 + prof["mqtt_wait_seconds"] * max(1, n // prof["mqtt_messages"])
            while done < n and time.perf_counter() < deadline and publisher.error is None:
                time.sleep(0.05)
                now_done = stored() - before
                if now_done > done:
                    done, last_progress = now_done, time.perf_counter()
            cpu = cpu_seconds(server.proc.pid, tree=True) - cpu0[0], cpu_seconds(broker_pid) - cpu0[1]
            publisher.join(10)
        if publisher.error is not None:
            raise RuntimeError(f"bench publisher failed: {publisher.error!r}")
        elapsed = last_progress - t0
        rate = done / elapsed if elapsed > 0 else 0.0
        # /metrics answers for whichever worker took the request: the counts of one process only.
        outcomes = _outcomes(server.url) if processes == 1 else {}
        where = f"broker :{port}" if EXTERNAL_PORT else "own Mosquitto (max_inflight 1000, max_queued 100000)"
        note = f"{done:,} of {n:,} stored in {elapsed:.1f} s, {where}, publisher window {WINDOW}"
        if processes > 1:
            note += f", {processes} server processes in one share group"
        if done:
            # CPU per message says what one core could do, whatever else shares the machine.
            note += f"; server CPU {cpu[0] / done * 1e6:.0f} µs/msg (≈ {done / max(cpu[0], 1e-9):,.0f} msg/s per core)"
            if broker_pid is not None:
                note += f", Mosquitto CPU {cpu[1] / done * 1e6:.0f} µs/msg"
        if done < n:
            note += "; stopped waiting"
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

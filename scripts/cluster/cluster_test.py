"""`make cluster-test`: a mixed load on the loopback cluster while a NATS node, an API worker and a consumer
process are killed (SIGKILL) and restarted; then every acknowledged write must be stored exactly once and
every event consumed. Prints ``acknowledged N, stored N, duplicated 0, lost 0`` and exits 1 on any loss.

Acknowledged means: a report answered 201/200 (sent with an ``Idempotency-Key`` and retried with the same
key after any failure), an observation in a dataArray batch answered 201 (same), an MQTT QoS 1 message whose
PUBACK arrived. Run against a cluster that `cluster.py up` started (``make cluster-test`` does both).
``--single`` runs the same load, with no faults, against one `cityops serve` (single_node.py) for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
import single_node

import cluster

T0 = datetime(2026, 1, 1, tzinfo=UTC)
RETRY = (httpx.TransportError, httpx.TimeoutException)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Load:
    """The writers and readers; each records what the cluster acknowledged."""

    def __init__(self, base: str, api_key: str, mqtt_port: int, seconds: float, run: str) -> None:
        self.base, self.key, self.mqtt_port, self.seconds, self.run = base, api_key, mqtt_port, seconds, run
        self.stop_at = time.monotonic() + seconds
        self.reports_acked: set[str] = set()
        self.obs_acked: dict[int, set[int]] = {}
        self.mqtt_acked: set[int] = set()
        self.reads = {"ok": 0, "failed": 0}
        self.retries = 0
        self.errors: list[str] = []
        self.lock = threading.Lock()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=15.0, headers={"X-API-Key": self.key})

    def _until_acknowledged(
        self, c: httpx.Client, method: str, url: str, body: Any, key: str
    ) -> httpx.Response:
        """Send until the cluster answers 2xx; the same Idempotency-Key makes a retry harmless."""
        for attempt in range(200):
            try:
                r = c.request(method, url, json=body, headers={"Idempotency-Key": key})
                if r.status_code < 300:
                    return r
                if r.status_code < 500 and r.status_code != 429:
                    raise SystemExit(f"{url} refused: {r.status_code} {r.text[:300]}")
            except RETRY:
                pass
            with self.lock:
                self.retries += 1
            time.sleep(min(2.0, 0.1 * (attempt + 1)))
        raise SystemExit(f"{url}: no answer after 200 tries")

    def reports(self, n: int) -> None:
        rng = random.Random(n)
        with self.client() as c:
            i = 0
            while time.monotonic() < self.stop_at:
                marker = f"{self.run}-r{n}-{i}"
                body = {
                    "category": "other",
                    "description": f"ổ gà trên đường, tải thử {marker}",
                    "lat": rng.uniform(10.4, 11.8),
                    "lon": rng.uniform(105.8, 106.8),
                }
                self._until_acknowledged(c, "POST", "/api/v1/reports", body, f"cluster-test-{marker}")
                with self.lock:
                    self.reports_acked.add(marker)
                i += 1

    def batches(self, datastream: int, rows: int = 200) -> None:
        acked = self.obs_acked.setdefault(datastream, set())
        with self.client() as c:
            b = 0
            while time.monotonic() < self.stop_at:
                seconds = range(b * rows, (b + 1) * rows)
                body = [
                    {
                        "Datastream": {"@iot.id": datastream},
                        "components": ["phenomenonTime", "result"],
                        "dataArray": [[iso(T0 + timedelta(seconds=s)), s % 97] for s in seconds],
                    }
                ]
                r = self._until_acknowledged(
                    c, "POST", "/sta/v1.1/CreateObservations", body, f"{self.run}-b{datastream}-{b}"
                )
                links = r.json()
                if any(link == "error" for link in links):
                    raise SystemExit(f"batch {b} of datastream {datastream}: rows not created")
                with self.lock:
                    acked.update(seconds)
                b += 1

    def mqtt(self, datastream: int) -> None:
        """QoS 1, persistent session; paho re-sends what was in flight after a reconnect."""
        mids: dict[int, int] = {}
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self.run}-device",
            protocol=paho.MQTTv311,
            clean_session=False,
        )
        client.max_inflight_messages_set(100)
        client.max_queued_messages_set(0)

        early: set[int] = set()  # PUBACKs that arrived before publish() returned the mid to us

        def on_publish(_c: Any, _u: Any, mid: int, _rc: Any, _p: Any) -> None:
            with self.lock:
                if mid in mids:
                    self.mqtt_acked.add(mids.pop(mid))
                else:
                    early.add(mid)

        client.on_publish = on_publish
        client.reconnect_delay_set(0.2, 2)
        client.connect("127.0.0.1", self.mqtt_port, keepalive=10)
        client.loop_start()
        topic = f"v1.1/Datastreams({datastream})/Observations"
        n = 0
        while time.monotonic() < self.stop_at:
            if len(mids) > 500:  # a window, as a device would keep
                time.sleep(0.01)
                continue
            payload = json.dumps({"phenomenonTime": iso(T0 + timedelta(seconds=n)), "result": n % 89})
            # publish() outside our lock: paho's network thread holds paho's lock while it calls on_publish,
            # which takes ours (holding ours around publish() deadlocked the whole load)
            info = client.publish(topic, payload, qos=1)
            with self.lock:
                if info.mid in early:
                    early.discard(info.mid)
                    self.mqtt_acked.add(n)
                else:
                    mids[info.mid] = n
            n += 1
            time.sleep(0.002)
        deadline = time.monotonic() + 90
        while mids and time.monotonic() < deadline:  # every sent message acknowledged, or counted as not
            time.sleep(0.2)
        client.loop_stop()
        client.disconnect()
        self.mqtt_sent = n

    def reads_loop(self, datastream: int) -> None:
        with httpx.Client(base_url=self.base, timeout=10.0) as c:
            while time.monotonic() < self.stop_at:
                for url in (
                    "/api/v1/sensing/latest",
                    f"/sta/v1.1/Datastreams({datastream})/Observations?$top=5",
                    "/api/v1/ioc/summary",
                ):
                    try:
                        ok = c.get(url).status_code == 200
                    except RETRY:
                        ok = False
                    with self.lock:
                        self.reads["ok" if ok else "failed"] += 1
                time.sleep(0.05)


def kill(name: str) -> None:
    pid = cluster.load_state()["pids"][name]  # type: ignore[index]
    os.killpg(pid, signal.SIGKILL)
    print(f"  t+{time.monotonic() - START:.0f}s killed {name} (SIGKILL)")


def faults(p: dict[str, int], secret: str, seconds: float) -> None:
    plan = [
        (0.15, lambda: kill("nats1")),
        (0.35, lambda: cluster.start_nats(1, p)),
        (0.40, lambda: kill("api1")),
        (0.55, lambda: cluster.start_api(1, p, secret)),
        (0.60, lambda: kill("consumer0")),
        (0.75, lambda: cluster.start_consumer(0, p, secret)),
    ]
    for share, action in plan:
        while time.monotonic() - START < share * seconds:
            time.sleep(0.1)
        action()
        if action.__code__.co_names[-1:] != ("kill",) and "start" in str(action.__code__.co_names):
            print(f"  t+{time.monotonic() - START:.0f}s restarted")


async def consumers_done(url: str, timeout: float) -> tuple[bool, list[str]]:
    """Wait until every durable on the stream has nothing pending nor unacknowledged."""
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    deadline = time.monotonic() + timeout
    detail: list[str] = []
    while True:
        infos = await js.consumers_info("CITYOPS")
        detail = [
            f"{i.name}: pending {i.num_pending}, unacked {i.num_ack_pending}"
            for i in infos
            if i.num_pending or i.num_ack_pending
        ]
        if not detail or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await nc.close()
    return not detail, detail


def setup(p: dict[str, int]) -> tuple[str, list[int]]:
    from cityops.db import make_sessionmaker
    from cityops.identity.apikeys import create_api_key

    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{p['pg_primary']}/{DB_NAME}")
    with make_sessionmaker(engine)() as s:
        _, secret = create_api_key(s, name=f"cluster-test-{uuid.uuid4().hex[:6]}", scopes=["ingest"])
        s.commit()
    engine.dispose()
    base = f"http://127.0.0.1:{p['nginx_http']}"
    ids = []
    with httpx.Client(base_url=base, timeout=30, headers={"X-API-Key": secret}) as c:
        for i in range(3):
            thing = {
                "name": f"tải thử {i}",
                "description": "cluster test",
                "Datastreams": [
                    {
                        "name": f"cluster-test-{uuid.uuid4().hex[:8]}",
                        "description": "load",
                        "unitOfMeasurement": {"name": "m", "symbol": "m", "definition": "ucum:m"},
                        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                        "Sensor": {
                            "name": "s",
                            "description": "s",
                            "encodingType": "text/html",
                            "metadata": "x",
                        },
                        "ObservedProperty": {"name": f"level {i}", "definition": "x", "description": "x"},
                    }
                ],
            }
            r = c.post("/sta/v1.1/Things", json=thing)
            r.raise_for_status()
            thing_id = r.json()["@iot.id"]
            listed = httpx.get(
                f"{base}/sta/v1.1/Things({thing_id})/Datastreams", cookies=c.cookies, timeout=30
            )
            ds = listed.json()["value"]
            ids.append(int(ds[0]["@iot.id"]))
    return secret, ids


def count(p: dict[str, int], load: Load, ids: list[int]) -> dict[str, tuple[int, int, int]]:
    """Per kind: (acknowledged, how many of those are stored, rows stored more than once), from the primary."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{p['pg_primary']}/{DB_NAME}")
    out = {}
    with engine.connect() as conn:
        rows = (
            conn.execute(
                text("SELECT substring(description from :pat) FROM cases WHERE description LIKE :like"),
                {"pat": f"({load.run}-r[0-9]+-[0-9]+)", "like": f"%{load.run}-r%"},
            )
            .scalars()
            .all()
        )
        out["reports"] = (
            len(load.reports_acked),
            len(load.reports_acked & set(rows)),
            len(rows) - len(set(rows)),
        )
        for kind, ds, acked in (
            ("dataArray observations", ids[0], load.obs_acked.get(ids[0], set())),
            ("dataArray observations (2)", ids[1], load.obs_acked.get(ids[1], set())),
            ("MQTT observations", ids[2], load.mqtt_acked),
        ):
            times = (
                conn.execute(
                    text("SELECT phenomenon_time FROM sta_observations WHERE datastream_id = :d"), {"d": ds}
                )
                .scalars()
                .all()
            )
            secs = [int((t.astimezone(UTC) - T0).total_seconds()) for t in times]
            out[kind] = (len(acked), len(acked & set(secs)), len(secs) - len(set(secs)))
        pending = conn.execute(text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")).scalar()
    engine.dispose()
    out["_outbox_pending"] = (int(pending or 0), 0, 0)
    return out


START = time.monotonic()
DB_NAME = "cityops"


def guarded(target: Any, load: Load) -> Any:
    """A load thread that fails records why (the run then fails), instead of dying silently."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            load.errors.append(f"{type(exc).__name__}: {exc}")
            load.stop_at = 0

    return run


def main() -> None:
    global START
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("CLUSTER_TEST_SECONDS", "60")))
    parser.add_argument("--single", action="store_true", help="the same load against one node, no faults")
    args = parser.parse_args()
    if args.single:
        global DB_NAME
        DB_NAME = single_node.DB
        node = single_node.SingleNode()
        node.up()
        try:
            run_load(node.ports, node.secret, args.seconds, faults_on=False)
        finally:
            node.down()
        return
    state = cluster.load_state()
    if not state:
        raise SystemExit("no cluster is up (make cluster)")
    run_load(state["ports"], state["secret"], args.seconds, faults_on=True)  # type: ignore[arg-type]


def run_load(p: dict[str, int], secret_key: str, seconds: float, faults_on: bool) -> None:
    """The mixed load, the counts and the verdict (exits 1 on any loss)."""
    global START
    api_key, ids = setup(p)
    run = f"ct{uuid.uuid4().hex[:6]}"
    load = Load(f"http://127.0.0.1:{p['nginx_http']}", api_key, p["nginx_mqtt"], seconds, run)
    print(
        f"mixed load for {seconds:.0f} s through :{p['nginx_http']} and MQTT :{p['nginx_mqtt']} "
        f"(run {run}); faults: {'' if faults_on else 'none'}"
    )
    START = time.monotonic()
    threads = [threading.Thread(target=load.reports, args=(n,)) for n in range(4)]
    threads += [
        threading.Thread(target=load.batches, args=(ids[0],)),
        threading.Thread(target=load.batches, args=(ids[1],)),
    ]
    threads += [
        threading.Thread(target=load.mqtt, args=(ids[2],)),
        threading.Thread(target=load.reads_loop, args=(ids[0],)),
    ]
    if faults_on:
        threads.append(threading.Thread(target=faults, args=(p, secret_key, seconds)))
    for t in threads:
        t.run = guarded(t.run, load)  # type: ignore[method-assign]
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - START
    print(
        f"load done in {elapsed:.0f} s; {load.retries} retried request(s); reads ok {load.reads['ok']}, "
        f"failed {load.reads['failed']}; MQTT sent {getattr(load, 'mqtt_sent', 0)}, acknowledged {len(load.mqtt_acked)}"
    )
    obs = sum(len(v) for v in load.obs_acked.values())
    print(
        f"  acknowledged per second of load: reports {len(load.reports_acked) / seconds:.1f}, dataArray "
        f"observations {obs / seconds:.0f}, MQTT messages {len(load.mqtt_acked) / seconds:.0f}, "
        f"reads {load.reads['ok'] / seconds:.1f}"
    )
    # The broker holds every acknowledged QoS 1 message for the ingest's persistent session (in JetStream on
    # NATS); the ingest works through that backlog after the devices stop. Wait while it makes progress.
    t0 = still = time.monotonic()
    last = -1
    while True:
        acked_mqtt, stored_mqtt, _ = count(p, load, ids)["MQTT observations"]
        if stored_mqtt >= acked_mqtt:
            break
        if stored_mqtt != last:
            last, still = stored_mqtt, time.monotonic()
        elif time.monotonic() - still > 60:
            break
        time.sleep(2)
    print(
        f"  MQTT backlog: {stored_mqtt} of {acked_mqtt} stored {time.monotonic() - t0:.0f} s after the load"
    )
    # every event consumed: the outbox relayed, every durable drained
    deadline = time.monotonic() + 120
    while True:
        result = count(p, load, ids)
        if result["_outbox_pending"][0] == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    consumed, detail = True, []  # a single node consumes in its own process: the drained outbox says it
    if "nats0" in p:
        consumed, detail = asyncio.run(consumers_done(f"nats://127.0.0.1:{p['nats0']}", 120))
    dead = sum(
        log.read_text(errors="replace").count("dead-lettered") for log in cluster.ROOT.glob("consumer*.log")
    )
    acked = stored = dup = lost = 0
    for kind, (a, s, d) in result.items():
        if kind.startswith("_"):
            continue
        print(f"  {kind}: acknowledged {a}, stored {s}, duplicated {d}")
        acked, stored, dup, lost = acked + a, stored + s, dup + d, lost + (a - s)
    print(
        f"  outbox pending {result['_outbox_pending'][0]}; consumers drained: {consumed} {detail}; dead-lettered {dead}"
    )
    print(f"acknowledged {acked}, stored {stored}, duplicated {dup}, lost {lost}")
    for error in load.errors:
        print(f"  load error: {error}")
    ok = (
        not load.errors
        and lost == 0
        and dup == 0
        and consumed
        and dead == 0
        and result["_outbox_pending"][0] == 0
        and acked > 0
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

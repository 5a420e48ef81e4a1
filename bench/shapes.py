"""The request shapes a province sends (issue #22): many small requests, not one big one.

:func:`measure_shape` runs ``clients`` threads, each posting its own pre-built bodies (fresh times per
request) for ``seconds``; :func:`store_limit_small` inserts the same rows with a plain script, one
transaction per request's rows — the store's limit for that shape. ``python -m bench.shapes`` measures
the station shape alone against a fresh database, for profiling (``--spy`` writes py-spy stacks).
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

# (name, datastreams per request, rows per datastream, path): the shapes of deliverable 5.
SHAPES: tuple[tuple[str, int, int, str], ...] = (
    ("CreateObservations 10 Datastreams × 1 row", 10, 1, "CreateObservations"),
    ("CreateObservations 100 Datastreams × 1 row", 100, 1, "CreateObservations"),
    ("CreateObservations 100 Datastreams × 100 rows", 100, 100, "CreateObservations"),
    ("POST Observations, one observation", 1, 1, "Observations"),
)


@dataclass
class ShapeResult:
    requests: int
    observations: int
    seconds: float
    latencies_ms: list[float]
    errors: list[str]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ops(self) -> float:
        return self.observations / self.seconds if self.seconds else 0.0


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def bodies(
    ds_ids: list[int],
    per_request: int,
    rows: int,
    path: str,
    start: datetime,
    count: int,
    client: int,
    clients: int = 8,
) -> list[bytes]:
    """``count`` request bodies for client ``client`` of ``clients``: its own times, so no row repeats another."""
    out: list[bytes] = []
    for r in range(count):
        # every client moves forward together (a station's values arrive in time order), none repeats a time
        t0 = start + timedelta(seconds=(r * clients + client) * rows)
        group = [ds_ids[(r * per_request + k) % len(ds_ids)] for k in range(per_request)]
        if path == "Observations":
            out.append(
                json.dumps(
                    {
                        "phenomenonTime": _iso(t0),
                        "result": 20 + r % 50 / 10,
                        "Datastream": {"@iot.id": group[0]},
                    }
                ).encode()
            )
            continue
        items = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[_iso(t0 + timedelta(seconds=k)), 20 + (r + k) % 50 / 10] for k in range(rows)],
            }
            for ds in group
        ]
        out.append(json.dumps(items).encode())
    return out


def measure_shape(
    url: str,
    path: str,
    client_bodies: list[list[bytes]],
    headers: dict[str, str],
    seconds: float,
    rows_per_request: int,
) -> ShapeResult:
    """Each client posts its bodies in order until ``seconds`` pass (or they run out)."""
    lat: list[float] = []
    errors: list[str] = []
    counts = [0] * len(client_bodies)
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def run(i: int) -> None:
        mine: list[float] = []
        with httpx.Client(timeout=60, headers=headers) as http:
            for body in client_bodies[i]:
                if time.perf_counter() >= stop:
                    break
                t0 = time.perf_counter()
                r = http.post(
                    f"{url}/sta/v1.1/{path}", content=body, headers={"content-type": "application/json"}
                )
                mine.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 201 or (path == "CreateObservations" and "error" in r.json()):
                    with lock:
                        errors.append(f"{r.status_code} {r.text[:160]}")
                    break
                counts[i] += 1
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(client_bodies))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    n = sum(counts)
    return ShapeResult(n, n * rows_per_request, secs, lat, errors)


def store_limit_small(
    connect: Callable[[], Any], pg: bool, client_bodies: list[list[bytes]], seconds: float, requests: int
) -> float:
    """Observations/s of a plain script inserting the same rows as the requests, one transaction per
    request's rows, into an un-indexed table of the same columns (SQLite executemany / PostgreSQL
    executemany, one client at a time — the store's own limit at this transaction size)."""
    conn = connect()
    cur = conn.cursor()
    t = "timestamptz" if pg else "TEXT"
    cur.execute("DROP TABLE IF EXISTS bench_limit_small")
    cur.execute(
        f"CREATE TABLE bench_limit_small (datastream_id int8, phenomenon_time {t}, result_number float8, "
        "quality_flags int4)"
    )
    conn.commit()
    rows_per: list[list[tuple[Any, ...]]] = []
    for body in itertools.islice(itertools.chain.from_iterable(zip(*client_bodies, strict=False)), requests):
        data = json.loads(body)
        if isinstance(data, dict):
            rows_per.append([(data["Datastream"]["@iot.id"], data["phenomenonTime"], data["result"], 0)])
        else:
            rows_per.append(
                [(g["Datastream"]["@iot.id"], row[0], row[1], 0) for g in data for row in g["dataArray"]]
            )
    sql = "INSERT INTO bench_limit_small VALUES (" + ", ".join(["%s" if pg else "?"] * 4) + ")"
    n = 0
    t0 = time.perf_counter()
    for rows in rows_per:
        cur.executemany(sql, rows)
        conn.commit()
        n += len(rows)
        if time.perf_counter() - t0 > seconds:
            break
    secs = time.perf_counter() - t0
    cur.execute("DROP TABLE bench_limit_small")
    conn.commit()
    conn.close()
    return n / secs


# Requests/s a shape could reach at best here (to build enough bodies without building millions of rows).
CEILING_OBS_S = 150_000
CEILING_REQ_S = 4_000


def bodies_per_client(rows_per_request: int, seconds: float, clients: int) -> int:
    rps = min(CEILING_REQ_S, CEILING_OBS_S / rows_per_request)
    return int(seconds * rps / clients) + 10


@dataclass
class ShapeFigure:
    """One shape measured over HTTP, with the store's limit for its rows measured in the same run."""

    name: str
    path: str
    rows_per_request: int
    result: ShapeResult
    limit_obs_s: float | None
    cpu_s: float  # the server's CPU seconds over the measurement
    cpu_note: str

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s / self.result.requests * 1e3 if self.result.requests else float("nan")

    @property
    def cpu_us_per_obs(self) -> float:
        return self.cpu_s / self.result.observations * 1e6 if self.result.observations else float("nan")

    def percentile(self, q: float) -> float:
        lat = sorted(self.result.latencies_ms)
        return lat[min(len(lat) - 1, int(len(lat) * q))] if lat else float("nan")

    def note(self) -> str:
        r = self.result
        limit = (
            f"; store limit {self.limit_obs_s:,.0f} obs/s = {self.limit_obs_s / self.rows_per_request:,.0f} req/s"
            if self.limit_obs_s
            else ""
        )
        errors = f"; errors: {r.errors[:1]}" if r.errors else ""
        return (
            f"{r.rps:,.0f} req/s, {r.ops:,.0f} obs/s, p50 {self.percentile(0.5):.1f} ms, p99 "
            f"{self.percentile(0.99):.1f} ms; server CPU {self.cpu_ms_per_request:.2f} ms/req, "
            f"{self.cpu_us_per_obs:,.0f} µs/obs ({self.cpu_note}){limit}{errors}"
        )


def measure_figure(
    shape: tuple[str, int, int, str],
    url: str,
    auth: dict[str, str],
    ds_ids: list[int],
    clients: int,
    seconds: float,
    connect: Callable[[], Any] | None,
    pg: bool,
    cpu: Callable[[], Callable[[int], tuple[float, str]]],
) -> ShapeFigure:
    """``shape`` (an entry of :data:`SHAPES`) against the running server at ``url``: a short warm-up on
    earlier times, then ``clients`` clients for ``seconds``; the store limit of the same rows (``connect``:
    a DB-API connection to a scratch store) first. ``cpu()`` starts the CPU count and returns its reader."""
    name, per_request, rows, path = shape
    # each shape its own days (the shapes post to the same datastreams; a time posted twice with another
    # value is a conflict), the warm-up two days before them
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60 - 5 * SHAPES.index(shape))
    per_client = bodies_per_client(per_request * rows, seconds, clients)
    data = [bodies(ds_ids, per_request, rows, path, start, per_client, c, clients) for c in range(clients)]
    limit = store_limit_small(connect, pg, data, min(seconds, 5), 20_000) if connect is not None else None
    warm = [bodies(ds_ids, per_request, rows, path, start - timedelta(days=2), 3, c, 2) for c in range(2)]
    measure_shape(url, path, warm, auth, 5, rows * per_request)
    read_cpu = cpu()
    res = measure_shape(url, path, data, auth, seconds, rows * per_request)
    cpu_s, note = read_cpu(max(res.requests, 1))
    return ShapeFigure(name, path, rows * per_request, res, limit, cpu_s, note)


def _standalone(argv: list[str] | None = None) -> None:
    from bench import seed
    from bench.server import Server, env_for, upgrade
    from bench.spy import Spy
    from cityops.db import make_engine, make_sessionmaker

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--shape", type=int, default=0, help="index into SHAPES")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--spy", action="store_true")
    args = ap.parse_args(argv)
    name, per_request, rows, path = SHAPES[args.shape]
    work = Path(tempfile.mkdtemp(prefix="cityops-shapes-"))
    pg_name = None
    if args.backend == "postgresql":
        from bench.run import create_pg_db, drop_pg_db

        pg_name, raw = create_pg_db("cityops_shapes")
        sa_url = raw.replace("postgresql://", "postgresql+psycopg://", 1)
        env = env_for(work, sa_url)
    else:
        sa_url = f"sqlite:///{work / 'cityops.sqlite3'}"
        env = env_for(work, None)
    upgrade(env)
    engine = make_engine(sa_url)
    with make_sessionmaker(engine)() as s:
        ds_ids = seed.stations(s, 200, with_latest=False)
        key = seed.ingest_key(s)
    engine.dispose()
    auth = {"authorization": "Basic " + base64.b64encode(f"bench:{key}".encode()).decode()}
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    per_client = bodies_per_client(per_request * rows, args.seconds, args.clients)
    data = [
        bodies(ds_ids, per_request, rows, path, start, per_client, c, args.clients)
        for c in range(args.clients)
    ]
    server = Server(env, work / "server.log", workers=args.workers)
    try:
        warm = [
            bodies(ds_ids, per_request, rows, path, start - timedelta(days=100), 5, c, 2) for c in range(2)
        ]
        measure_shape(server.url, path, warm, auth, 5, rows * per_request)
        server.wait_idle()
        spy = Spy(work / "profiles") if args.spy else None
        cpu0 = server.cpu_seconds()
        ctx = spy.record(server.proc.pid, "shape") if spy else None
        if ctx:
            ctx.__enter__()
        res = measure_shape(server.url, path, data, auth, args.seconds, rows * per_request)
        if ctx:
            ctx.__exit__(None, None, None)
        cpu = server.cpu_seconds() - cpu0
        lat = sorted(res.latencies_ms)
        print(
            f"{name} [{args.backend}]: {res.rps:,.0f} req/s, {res.ops:,.0f} obs/s, "
            f"p50 {lat[len(lat) // 2]:.1f} ms p99 {lat[int(len(lat) * 0.99)]:.1f} ms, "
            f"server CPU {cpu / max(res.requests, 1) * 1e3:.2f} ms/req, errors {res.errors[:2]}"
        )
        if spy:
            print(spy.summaries.get("shape", "")[:4000])
            print("profiles in", work / "profiles")
        if args.backend == "sqlite":

            def conn() -> Any:
                c = sqlite3.connect(work / "limit.sqlite3")
                c.execute("PRAGMA journal_mode=WAL")
                c.execute("PRAGMA synchronous=NORMAL")
                return c

            limit = store_limit_small(conn, False, data, 5, 20_000)
            print(f"store limit: {limit:,.0f} obs/s = {limit / (rows * per_request):,.0f} req/s")
    finally:
        server.stop()
        if pg_name:
            drop_pg_db(pg_name)


if __name__ == "__main__":
    _standalone()

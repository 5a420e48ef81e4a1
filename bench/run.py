"""The benchmark runner: ``python -m bench [--profile quick|full] [--backends sqlite,postgresql]
[--figures latest,filter] [--scale 0.1]``.

Per backend: a fresh database (SQLite in a temporary data dir; PostgreSQL in a temporary database on
127.0.0.1:5432, dropped afterwards), seeded through the store functions, then the real server in its own
process, measured over HTTP. Prints a table, writes ``bench/results/<timestamp>.json`` and, with
``--write-md``, the table into ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench import peer, seed
from bench.server import ROOT, PgCpu, Server, at_head, env_for, upgrade
from bench.spy import Spy

console = Console(width=None if sys.stdout.isatty() else 220)
PG_ADMIN = os.environ.get("CITYOPS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = ROOT / "bench" / "results"

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "obs_total": 10_000_000,
        "agg_days": 365,
        "latest_n": 10_000,
        "cases": 1_000_000,
        "batch": 5_000,
        "clients": 2,
        "batches_per_client": 12,
        "peer_batches_per_client": 4,
        "report_clients": 100,
        "report_seconds": 10,
        "reps": 30,
        "filter_reps": 5,
        "mqtt_messages": 5_000,
        "mqtt_wait_seconds": 20,
        "shape_clients": 8,  # the request shapes a province sends (#22): clients, seconds per shape
        "shape_seconds": 6,
        # latency figures: up to ``reps`` requests, ending after latency_budget_s once 5 are in, or at
        # latency_cap_s even with fewer (a slow endpoint); each row says how many
        "latency_budget_s": 4.0,
        "latency_cap_s": 15.0,
    },
    "full": {
        "obs_total": 100_000_000,
        "agg_days": 365,
        "latest_n": 10_000,
        "cases": 1_000_000,
        "batch": 5_000,
        "clients": 4,
        "batches_per_client": 60,
        "peer_batches_per_client": 10,
        "report_clients": 100,
        "report_seconds": 60,
        "reps": 200,
        "filter_reps": 20,
        "mqtt_messages": 100_000,
        "mqtt_wait_seconds": 600,
        "shape_clients": 8,
        "shape_seconds": 30,
        "latency_budget_s": 30.0,
        "latency_cap_s": 120.0,
    },
}


# Every figure ``--figures`` can pick; seeding only makes what the picked ones read.
FIGURES = (
    "ingest", "shapes", "store", "peer", "latest", "aggregate", "filter", "reports", "map", "ioc", "mqtt", "rss"
)  # fmt: skip
# Sizes ``--scale`` multiplies (never below 1); the rest (batch size, clients, repetitions) stays.
SCALED = ("obs_total", "agg_days", "latest_n", "cases", "batches_per_client", "peer_batches_per_client",
          "report_seconds", "mqtt_messages")  # fmt: skip


def scaled(prof: dict[str, Any], scale: float) -> dict[str, Any]:
    """The profile with its sizes multiplied by ``scale`` (for a quick check of one figure)."""
    if scale == 1:
        return dict(prof)
    return {k: max(1, round(v * scale)) if k in SCALED else v for k, v in prof.items()}


def parse_figures(text: str) -> set[str]:
    figs = {f.strip() for f in text.split(",") if f.strip()}
    unknown = figs - set(FIGURES)
    if unknown:
        raise SystemExit(f"unknown figure(s) {sorted(unknown)}; choose from {','.join(FIGURES)}")
    return figs


@dataclass
class Row:
    figure: str
    backend: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


@dataclass
class Timing:
    """Latencies (ms) of sequential requests, the last response's body, and whether the cap stopped them."""

    lat: list[float]
    body: Any
    seconds: float
    capped: bool

    def note(self) -> str:
        n = len(self.lat)
        text = f"{n} requests in {self.seconds:.1f} s"
        if self.capped:
            text += " (stopped at the time cap: a slow endpoint)"
        return text

    def rows(
        self,
        label: str,
        backend: str,
        target: str = "",
        limit_ms: float | None = None,
        note: str = "",
        p99_row: bool = True,
    ) -> list[Row]:
        """The p50 row (judged against ``limit_ms``) and the p99 (its own row, or in the note); both say
        how many samples they rest on (with fewer than 100, p99 is the slowest of them)."""
        p50, p99 = pct(self.lat, 0.5), pct(self.lat, 0.99)
        met = (p50 < limit_ms) if limit_ms is not None else None
        prefix = f"{note}; " if note else ""
        if not p99_row:
            return [Row(f"{label} p50", backend, p50, "ms", target=target, met=met,
                        note=f"{prefix}p99 {p99:.1f}; {self.note()}")]  # fmt: skip
        return [
            Row(f"{label} p50", backend, p50, "ms", target=target, met=met, note=prefix + self.note()),
            Row(f"{label} p99", backend, p99, "ms", note=f"of {len(self.lat)} requests"),
        ]


def plain_category(client: httpx.Client) -> str:
    """The first report category without required questions (a report needs only a description)."""
    cats = client.get("/api/v1/reports/categories").json()
    return str(next(c["code"] for c in cats if not any(q.get("required") for q in c["questions"])))


def report_writer(client: httpx.Client) -> Callable[[], None]:
    """A function submitting one citizen report (a commit, as a live province makes every few seconds)."""
    category = plain_category(client)
    rng = random.Random(7)

    def write() -> None:
        body = {"category": category, "description": "Đèn đường hỏng", "lat": rng.uniform(10.4, 11.8),
                "lon": rng.uniform(105.8, 106.8)}  # fmt: skip
        client.post("/api/v1/reports", json=body).raise_for_status()

    return write


def timed(
    client: httpx.Client,
    path: str,
    reps: int,
    params: dict[str, Any] | None = None,
    budget_s: float = 5.0,
    cap_s: float = 15.0,
    at_least: int = 5,
    clock: Callable[[], float] = time.perf_counter,
    between: Callable[[], None] | None = None,
) -> Timing:
    """Sequential GETs after one warm-up; latencies in ms. Stops at ``reps`` samples, or after ``budget_s``
    once ``at_least`` are in, or at ``cap_s`` (warm-up included) even with fewer, so a slow endpoint still
    gets a figure without eating the run's time; the note says how many samples there are. ``between``
    runs before each sample, untimed (e.g. a write, so a cached answer must be rebuilt)."""
    t_start = clock()
    r = client.get(path, params=params)
    r.raise_for_status()
    out: list[float] = []
    t_first = clock()
    capped = False
    while len(out) < reps:
        now = clock()
        if len(out) >= at_least and now - t_first >= budget_s:
            break
        if out and now - t_start >= cap_s:
            capped = len(out) < at_least
            break
        if between is not None:
            between()
        t0 = clock()
        r = client.get(path, params=params)
        out.append((clock() - t0) * 1000)
        r.raise_for_status()
    return Timing(out, r.json(), clock() - t_first, capped)


# --- the ingest rows, shared by our server, the store limit and the peer -------------------------


def batches(ds_ids: list[Any], per_client: int, size: int, start: datetime) -> list[list[list[Any]]]:
    """For each client (one datastream each): ``per_client`` dataArray batches of ``size`` rows."""
    out = []
    for c, _ds in enumerate(ds_ids):
        mine = []
        for b in range(per_client):
            t0 = start + timedelta(seconds=(b * size))
            mine.append(
                [
                    [
                        (t0 + timedelta(seconds=k)).isoformat().replace("+00:00", "Z"),
                        20 + ((c + b + k) % 97) / 10,
                    ]
                    for k in range(size)
                ]
            )
        out.append(mine)
    return out


def payload(ds: int | str, rows: list[list[Any]]) -> bytes:
    body = [{"Datastream": {"@iot.id": ds}, "components": ["phenomenonTime", "result"], "dataArray": rows}]
    return json.dumps(body).encode()


def post_batches(
    url: str, bodies: list[list[bytes]], headers: dict[str, str], transport: httpx.BaseTransport | None = None
) -> tuple[int, float, list[str]]:
    """One thread per client posting its pre-built bodies; returns (rows acknowledged, seconds, errors).

    A 201 whose links hold "error" (rows the server could not create) is an error, not a smaller count."""
    acked = [0] * len(bodies)
    errors: list[str] = []

    def client(i: int) -> None:
        try:
            send(i)
        except Exception as exc:
            errors.append(repr(exc))

    def send(i: int) -> None:
        with httpx.Client(timeout=300, headers=headers, transport=transport) as http:
            for body in bodies[i]:
                r = http.post(url, content=body, headers={"content-type": "application/json"})
                if r.status_code != 201:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                links = r.json()
                failed = sum(1 for link in links if link == "error")
                if failed or not links:
                    # STA answers 201 with "error" in place of each row it could not create
                    errors.append(f"201 with {failed} of {len(links)} rows not created: {r.text[:120]}")
                    return
                acked[i] += len(links)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(acked), time.perf_counter() - t0, errors


# --- store limit ---------------------------------------------------------------------------------


def store_limit(url: str, pg: bool, data: list[list[list[list[Any]]]], ds_ids: list[int]) -> float:
    """Raw bulk insert of the same rows into an un-indexed table of the same columns, one commit per batch."""
    cols = (
        "datastream_id int8, multi_datastream_id int8, phenomenon_time {t}, phenomenon_time_end {t}, "
        "result_time {t}, result_number float8, result_json {j}, result_quality {j}, valid_time_start {t}, "
        "valid_time_end {t}, quality_flags int4, parameters {j}, feature_of_interest_id int8"
    )
    names = [c.split()[0] for c in cols.split(", ")]
    flat = [(ds_ids[c], rows) for c, per in enumerate(data) for rows in per]
    if pg:
        import psycopg

        with psycopg.connect(url) as conn:
            conn.execute("DROP TABLE IF EXISTS bench_limit")
            conn.execute(f"CREATE TABLE bench_limit ({cols.format(t='timestamptz', j='jsonb')})")
            conn.commit()
            t0 = time.perf_counter()
            for ds, rows in flat:
                with (
                    conn.cursor() as cur,
                    cur.copy(f"COPY bench_limit ({', '.join(names)}) FROM STDIN") as cp,
                ):
                    for t, v in rows:
                        cp.write_row((ds, None, t, None, None, v, None, None, None, None, 0, None, None))
                conn.commit()
            elapsed = time.perf_counter() - t0
            conn.execute("DROP TABLE bench_limit")
            conn.commit()
    else:
        import sqlite3

        # Its own file beside the database, same pragmas and disk: the server (paused until its figures)
        # may hold the database's write lock.
        lite = sqlite3.connect(str(Path(url).with_name("bench_limit.sqlite3")))
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")
        lite.execute("DROP TABLE IF EXISTS bench_limit")
        lite.execute(f"CREATE TABLE bench_limit ({cols.format(t='TEXT', j='TEXT')})")
        lite.commit()
        sql = f"INSERT INTO bench_limit ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        t0 = time.perf_counter()
        for ds, rows in flat:
            lite.executemany(
                sql, [(ds, None, t, None, None, v, None, None, None, None, 0, None, None) for t, v in rows]
            )
            lite.commit()
        elapsed = time.perf_counter() - t0
        lite.execute("DROP TABLE bench_limit")
        lite.commit()
        lite.close()
    return sum(len(rows) for _, rows in flat) / elapsed


# --- one backend ---------------------------------------------------------------------------------


def create_pg_db(prefix: str = "cityops_bench") -> tuple[str, str]:
    import psycopg

    name = f"{prefix}_{os.getpid()}_{time.time_ns() // 1000 % 10**9}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def drop_pg_db(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # PostgreSQL 13+


@dataclass
class Prepared:
    """One backend's database, seeded (or copied from the seeding cache) and migrated, ready to measure."""

    backend: str
    data_dir: Path
    env: dict[str, str]
    sa_url: str
    limit_url: str
    pg_name: str | None
    sizes: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    server: Server | None = None  # started ahead and paused (SIGSTOP) until its figures


def new_database(backend: str, data_dir: Path) -> Prepared:
    """An empty database for ``backend`` (SQLite: a file in ``data_dir``; PostgreSQL: a new database)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pg_name = None
    if backend == "postgresql":
        pg_name, raw_url = create_pg_db()
        sa_url = raw_url.replace("postgresql://", "postgresql+psycopg://", 1)
        limit_url = raw_url
    else:
        sa_url = f"sqlite:///{data_dir / 'cityops.sqlite3'}"
        limit_url = str(data_dir / "cityops.sqlite3")
    # One load generator stands for many citizens: lift the per-IP submission throttle (still in the path).
    env = env_for(
        data_dir,
        sa_url if backend == "postgresql" else None,
        CITYOPS_SECURITY_SUBMIT_PER_IP_PER_HOUR="100000000",
    )
    return Prepared(backend, data_dir, env, sa_url, limit_url, pg_name)


def migrate(p: Prepared) -> None:
    """``cityops db upgrade``, skipped (a few seconds of start-up) when the database is already at head."""
    if not at_head(p.sa_url):
        upgrade(p.env)


def seed_into(p: Prepared, prof: dict[str, Any], figs: set[str]) -> dict[str, Any]:
    """Migrate and seed ``p``'s database; prints the steps' times."""
    from cityops.db import make_engine, make_sessionmaker

    migrate(p)
    engine = make_engine(p.sa_url)
    try:
        sizes = seed_for(make_sessionmaker(engine), prof, figs, p.backend)
    finally:
        engine.dispose()
    console.print(
        f"\\[{p.backend}] seeded {sizes['obs_total']:,} observations, {sizes['cases']:,} cases in "
        f"{sizes['seed_seconds']} s ({', '.join(f'{k} {v} s' for k, v in sizes['steps'].items())})"
    )
    return sizes


HTTP_FIGURES = {"ingest", "shapes", "latest", "aggregate", "filter", "map", "ioc", "reports", "rss"}


def prepare_backend(
    backend: str,
    prof: dict[str, Any],
    work: Path,
    figs: set[str],
    cache: bool,
    seed_only: bool,
    workers: int | None = None,
) -> Prepared:
    """The backend's database for this run. With the cache: seed into the cache first if it has no
    database for these sizes (seeding straight into it: no copy), then copy the cached one and migrate it.
    Then start the server, let its start-up work finish and pause it until its figures."""
    t_all = time.perf_counter()
    p = new_database(backend, work / backend)
    key = cache_key(prof, figs)
    if cache:
        with cache_lock(backend, key):  # a concurrent run with the same key waits, then copies
            if cached(backend, key) and not migrate_cache(backend, key, work):
                evict_key(backend, key)  # a migration it ran was edited since: seed afresh
            if not cached(backend, key):
                t0 = time.perf_counter()
                seed_cache(backend, key, prof, figs, work)
                p.timings["seed"] = time.perf_counter() - t0
            if seed_only:
                return p
            t0 = time.perf_counter()
            p.sizes = from_cache(backend, key, p.data_dir, p.pg_name)
        if p.sizes is not None:
            migrate(p)  # applies migrations newer than the cached copy
            p.timings["copy"] = time.perf_counter() - t0
            console.print(
                f"\\[{backend}] database copied from the seeding cache ({key}) and migrated in "
                f"{p.timings['copy']:.1f} s (seeded in {p.sizes['seed_seconds']} s when made; "
                "--no-cache seeds afresh)"
            )
    if p.sizes is None:
        t0 = time.perf_counter()
        p.sizes = seed_into(p, prof, figs)
        p.timings["seed"] = time.perf_counter() - t0
    if not seed_only and figs & HTTP_FIGURES:
        t0 = time.perf_counter()
        try:
            p.server = Server(p.env, work / f"{backend}-server.log", workers=workers)
            idle = p.server.wait_idle()
            p.server.pause()
            p.timings["server start"] = time.perf_counter() - t0
            console.print(f"\\[{backend}] server started ahead in {p.timings['server start']:.1f} s "
                          f"(idle {idle:.1f} s after it answered), paused until its figures")  # fmt: skip
        except Exception as exc:  # the figures phase starts it again and reports what fails
            console.print(f"\\[{backend}] server not started ahead: {exc!r}")
            p.server = None
    p.timings["prepare"] = time.perf_counter() - t_all
    return p


@contextlib.contextmanager
def guard(rows: list[Row], figure: str, backend: str) -> Iterator[None]:
    """A figure that fails leaves a row saying so (and the run goes on): no figure is dropped silently.
    Also keeps the figure's wall time (``FIGURE_SECONDS``, in the results JSON)."""
    t0 = time.perf_counter()
    try:
        yield
    except Exception as exc:
        console.print(f"[red]\\[{backend}] {figure} failed:[/red] {exc!r}")
        rows.append(Row(figure, backend, None, "", note=f"failed: {exc!r}"[:300]))
    finally:
        key = f"{backend} {figure}"
        FIGURE_SECONDS[key] = FIGURE_SECONDS.get(key, 0.0) + time.perf_counter() - t0


FIGURE_SECONDS: dict[str, float] = {}


def cpu_note(server: Server, pg: PgCpu | None, before: float, n: int, unit: str, scale: float = 1e6,
             sym: str = "µs") -> tuple[float, str]:  # fmt: skip
    """Server CPU per operation since ``before`` (``cpu_mark``), and PostgreSQL's backends' for this
    database (``pg`` started by ``cpu_mark``)."""

    def per(seconds: float) -> str:
        x = seconds / n * scale if n else float("nan")
        return f"{x:,.0f} {sym}/{unit}" if x >= 10 else f"{x:.2f} {sym}/{unit}"

    server_cpu = server.cpu_seconds() - before
    note = f"server CPU {per(server_cpu)}"
    if pg is not None:
        note += f", PostgreSQL backends {per(pg.stop())}"
    return (server_cpu / n * scale if n else float("nan")), note


def cpu_mark(server: Server, pg: PgCpu | None) -> float:
    if pg is not None:
        pg.start()
    return server.cpu_seconds()


def measure_backend(
    p: Prepared,
    prof: dict[str, Any],
    work: Path,
    data_args: dict[str, Any],
    spy: Spy | None,
    figs: set[str],
) -> list[Row]:
    rows: list[Row] = []
    backend, env, sa_url, sizes = p.backend, p.env, p.sa_url, p.sizes
    assert sizes is not None
    server: Server | None = None
    pg = PgCpu(PG_ADMIN, p.pg_name) if p.pg_name else None
    lat_opts = {"budget_s": prof["latency_budget_s"], "cap_s": prof["latency_cap_s"]}
    try:
        obs_total = sizes["obs_total"]
        data_args.setdefault("seed", {})[backend] = sizes["seed_seconds"]
        ingest_ds: list[int] = sizes["ingest_ds"]
        limit: float | None = None
        data: list[list[list[list[Any]]]] = []
        if figs & {"ingest", "store"}:
            data = batches(ingest_ds, prof["batches_per_client"], prof["batch"], data_args["start"])
            with guard(rows, "store limit (raw bulk insert)", backend):
                limit = store_limit(p.limit_url, backend == "postgresql", data, ingest_ds)
        if not figs & HTTP_FIGURES:
            if "store" in figs and limit is not None:
                rows.append(store_row(backend, limit))
            if "mqtt" in figs:
                rows.append(mqtt_figure(env, work, prof, backend, sa_url, sizes["mqtt_ds"], spy)[0])
            return rows
        t0 = time.perf_counter()
        if p.server is not None:
            server, p.server = p.server, None
            server.resume()
            idle = server.wait_idle()  # work that was due while it was paused
            console.print(f"\\[{backend}] server resumed, idle after {idle:.1f} s")
        else:
            server = Server(env, work / f"{backend}-server.log", workers=data_args["workers"])
            up = time.perf_counter() - t0
            idle = server.wait_idle()
            console.print(f"\\[{backend}] server up in {up:.1f} s, idle {idle:.1f} s later")
        FIGURE_SECONDS[f"{backend} server start"] = time.perf_counter() - t0
        pid = server.proc.pid
        workers = f", {server.workers} workers" if (server.workers or 1) > 1 else ""

        def sampled(name: str) -> contextlib.AbstractContextManager[None]:
            return spy.record(pid, f"{backend}-{name}") if spy else contextlib.nullcontext()

        if "ingest" in figs:
            with guard(rows, "STA CreateObservations dataArray", backend):
                auth = {
                    "authorization": "Basic " + base64.b64encode(f"bench:{sizes['key']}".encode()).decode()
                }
                bodies = [[payload(ingest_ds[c], b) for b in per_client] for c, per_client in enumerate(data)]
                # warm-up: one small batch per client, earlier times
                warm = batches(ingest_ds, 1, 100, data_args["start"] - timedelta(days=1))
                post_batches(
                    f"{server.url}/sta/v1.1/CreateObservations",
                    [[payload(ingest_ds[c], w[0])] for c, w in enumerate(warm)],
                    auth,
                )
                with sampled("ingest"):
                    mark = cpu_mark(server, pg)
                    acked, secs, errors = post_batches(
                        f"{server.url}/sta/v1.1/CreateObservations", bodies, auth
                    )
                    per_obs, cpu = cpu_note(server, pg, mark, acked, "obs")
                ours = acked / secs if not errors else None
                rows.append(
                    Row(
                        "STA CreateObservations dataArray",
                        backend,
                        ours,
                        "obs/s",
                        limit,
                        "store limit",
                        (ours / limit) if (ours and limit) else None,
                        "≥ 100,000 obs/s and ≥ 25% of limit",
                        bool(ours and limit and ours >= 100_000 and ours / limit >= 0.25),
                        f"{prof['clients']} clients × {prof['batches_per_client']} batches of {prof['batch']}"
                        f"{workers}; {cpu}" + (f"; errors: {errors[:1]}" if errors else ""),
                    )
                )
                data_args.setdefault("ours", {})[backend] = ours
                data_args.setdefault("ours_cpu", {})[backend] = per_obs / 1e6 if acked else None
        if "shapes" in figs:
            rows += shape_rows(server, pg, p, prof, sizes, sampled)
        if "store" in figs and limit is not None:
            rows.append(store_row(backend, limit))
        category = None
        with httpx.Client(base_url=server.url, timeout=120) as http:
            if "latest" in figs:
                with guard(rows, "latest value", backend), sampled("latest"):
                    lat = timed(http, "/api/v1/sensing/latest", prof["reps"], **lat_opts)
                    n = lat.body["count"]
                    rows += lat.rows(f"latest value of {n:,} datastreams", backend, "< 20 ms", 20)
            if "aggregate" in figs:
                end = seed.YEAR_END
                with guard(rows, "aggregate", backend), sampled("aggregate"):
                    lat = timed(
                        http,
                        f"/api/v1/sensing/datastreams/{sizes['agg_ds']}/aggregate",
                        prof["reps"],
                        {
                            "from": (end - timedelta(days=prof["agg_days"])).isoformat(),
                            "to": end.isoformat(),
                            "interval": "hour",
                        },
                        **lat_opts,
                    )
                    label = (
                        f"{prof['agg_days']}-day hourly aggregate (1-min data, "
                        f"{len(lat.body['buckets'])} buckets)"
                    )
                    rows += lat.rows(label, backend, "< 50 ms", 50)
            if "filter" in figs:
                f_from = seed.YEAR_START + timedelta(days=30)
                flt = (
                    f"result gt 30 and phenomenonTime ge {f_from.isoformat().replace('+00:00', 'Z')} and "
                    f"phenomenonTime lt {(f_from + timedelta(days=60)).isoformat().replace('+00:00', 'Z')}"
                )
                with guard(rows, "$filter", backend), sampled("filter"):
                    lat = timed(
                        http,
                        "/sta/v1.1/Observations",
                        prof["filter_reps"],
                        {"$filter": flt, "$count": "true", "$top": "100"},
                        **lat_opts,
                    )
                    label = f"$filter result+time, $count over {obs_total:,} obs (count={lat.body.get('@iot.count')})"
                    rows += lat.rows(label, backend)
            if "map" in figs:
                bbox = "106.30,11.25,106.40,11.35"
                with guard(rows, "map viewport, points", backend):
                    lat = timed(
                        http,
                        "/api/v1/reports/public.geojson",
                        prof["reps"],
                        {"bbox": bbox, "zoom": 16},
                        **lat_opts,
                    )
                    label = f"map viewport, points ({len(lat.body['features'])} of {sizes['cases']:,} cases)"
                    rows += lat.rows(label, backend, note=f"bbox {bbox}, zoom 16", p99_row=False)
                with guard(rows, "map viewport, clustered", backend), sampled("map-clustered"):
                    lat = timed(
                        http,
                        "/api/v1/reports/public.geojson",
                        max(5, prof["reps"] // 3),
                        {"bbox": "105.8,10.4,106.8,11.8", "zoom": 9},
                        **lat_opts,
                    )
                    label = f"map viewport, whole province clustered ({sizes['cases']:,} cases)"
                    rows += lat.rows(label, backend, note="zoom 9", p99_row=False)
            if "ioc" in figs:
                with guard(rows, "IOC summary", backend), sampled("ioc-summary"):
                    lat = timed(http, "/api/v1/ioc/summary", max(5, prof["reps"] // 3), **lat_opts)
                    label = f"IOC summary ({sizes['cases']:,} cases, {obs_total:,} obs)"
                    rows += lat.rows(label, backend, "< 200 ms", 200, p99_row=False,
                                     note="nothing written between requests: the counts may come from the "
                                     "summary's cache")  # fmt: skip
                with guard(rows, "IOC summary after a new report", backend):
                    new_report = report_writer(http)
                    lat = timed(http, "/api/v1/ioc/summary", max(5, prof["reps"] // 3), between=new_report,
                                **lat_opts)  # fmt: skip
                    label = f"IOC summary after a new report ({sizes['cases']:,} cases)"
                    rows += lat.rows(label, backend, "< 200 ms", 200, p99_row=False,
                                     note="one report submitted (untimed) before each request, so every "
                                     "answer is recomputed")  # fmt: skip
            if "reports" in figs:
                with guard(rows, "report submission", backend):
                    category = plain_category(http)
        if "reports" in figs and category is not None:
            with guard(rows, "report submission", backend), sampled("reports"):
                rows.extend(report_load(server, pg, prof, backend, category))
        rss = server.peak_rss_mb()
        server.stop()
        server = None
        mqtt_rss = None
        if "mqtt" in figs:
            t0 = time.perf_counter()
            mqtt_row, mqtt_rss = mqtt_figure(env, work, prof, backend, sa_url, sizes["mqtt_ds"], spy)
            FIGURE_SECONDS[f"{backend} MQTT"] = time.perf_counter() - t0
            rows.append(mqtt_row)
        if "rss" in figs:
            note = "VmHWM over the HTTP figures" + (
                f"; {mqtt_rss:.0f} MB in the MQTT run" if mqtt_rss else ""
            )
            rows.append(Row("peak RSS of the server process", backend, rss, "MB", note=note))
    finally:
        if server is not None:
            server.stop()
    return rows


# --- the seeding cache ----------------------------------------------------------------------------
# Seeding 10^7 observations and 10^6 cases takes minutes on 2 cores; the seeded database is kept (SQLite:
# a file under bench/.cache/; PostgreSQL: a template database) and copied for the next run, so every run
# still starts from a pristine database. The key covers what the rows depend on: the sizes, the figures'
# needs, bench/seed.py and the UTC day (cases are dated relative to now). Migrations are not in it: the
# copy is upgraded like a fresh database, so a new migration (say an index) is applied to the seeded rows.
# A cold cache is seeded straight into the cache (a new database renamed to the template, a file moved
# into bench/.cache/), both backends at once, so the seeded data is never copied twice.
CACHE = ROOT / "bench" / ".cache"
PG_TEMPLATE = "cityops_bench_tpl_"
KEEP = 6  # cached databases kept per backend (the most recently used)
COSTLY_SEED_S = 30.0  # seeds that took longer are kept longer (see evict)


def cache_key(prof: dict[str, Any], figs: set[str]) -> str:
    import hashlib

    needs = sorted(
        figs & {"ingest", "shapes", "store", "aggregate", "mqtt", "filter", "ioc", "latest", "map", "reports"}
    )
    h = hashlib.sha256()
    sized = ("obs_total", "agg_days", "latest_n", "cases", "clients", "obs_per_datastream")
    h.update(
        json.dumps([needs, {k: prof.get(k) for k in sized}, datetime.now(UTC).date().isoformat()]).encode()
    )
    h.update((ROOT / "bench" / "seed.py").read_bytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def cache_lock(backend: str, key: str) -> Iterator[None]:
    """One run at a time seeds or copies a given cached database (concurrent runs on a shared machine)."""
    import fcntl

    CACHE.mkdir(exist_ok=True)
    (CACHE / ".gitignore").write_text("*\n")
    with (CACHE / f"{key}.{backend}.lock").open("w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached(backend: str, key: str) -> bool:
    if not (CACHE / f"{key}.{backend}.json").exists():
        return False
    if backend == "sqlite":
        return (CACHE / f"{key}.sqlite3").exists()
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return bool(
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_TEMPLATE + key,)).fetchone()
        )


def cache_url(backend: str, key: str) -> str:
    if backend == "postgresql":
        return f"{PG_ADMIN.rsplit('/', 1)[0]}/{PG_TEMPLATE + key}".replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    return f"sqlite:///{CACHE / f'{key}.sqlite3'}"


def fold_wal(db: Path) -> None:
    """Checkpoint an SQLite database's WAL into its file: runs copy or move the file alone."""
    import sqlite3

    lite = sqlite3.connect(db)
    lite.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    lite.close()


def migration_files() -> dict[str, str]:
    """Each migration's revision and the hash of its file."""
    import hashlib

    from alembic.script import ScriptDirectory

    from cityops.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {
        sc.revision: hashlib.sha256(Path(sc.path).read_bytes()).hexdigest()[:16]
        for sc in script.walk_revisions()
    }


def migrate_cache(backend: str, key: str, work: Path) -> bool:
    """Bring the cached database up to the migrations' head in place, once, rather than every run's copy
    (a migration that backfills from 10^6 cases costs a minute a copy on a loaded machine). Returns False
    when a migration applied to it earlier has been edited since: then it must be seeded afresh."""
    meta_path = CACHE / f"{key}.{backend}.json"
    meta = json.loads(meta_path.read_text())
    files = migration_files()
    applied: dict[str, str] = meta.get("migrated_in_place", {})
    if any(files.get(rev) != digest for rev, digest in applied.items()):
        console.print(
            f"\\[{backend}] a migration applied to the cached database changed since: seeding afresh"
        )
        return False
    url = cache_url(backend, key)
    if at_head(url):
        return True
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            before = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    finally:
        engine.dispose()
    t0 = time.perf_counter()
    upgrade(env_for(work / f"migrate-{backend}", url))
    if backend == "sqlite":
        fold_wal(CACHE / f"{key}.sqlite3")
    # revisions this upgrade applied: all that are not ancestors-or-self of what the database had
    from alembic.script import ScriptDirectory

    from cityops.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config(url))
    had = {sc.revision for rev in before for sc in script.iterate_revisions(rev, "base")}
    new = {rev for rev in files if rev not in had}
    meta["migrated_in_place"] = {**applied, **{rev: files[rev] for rev in new}}
    meta_path.write_text(json.dumps(meta))
    console.print(
        f"\\[{backend}] cached database migrated in place ({', '.join(sorted(new))}) in "
        f"{time.perf_counter() - t0:.1f} s, once for every later run"
    )
    return True


def evict_key(backend: str, key: str) -> None:
    import psycopg

    (CACHE / f"{key}.{backend}.json").unlink(missing_ok=True)
    if backend == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE + key}" WITH (FORCE)')
    else:
        (CACHE / f"{key}.sqlite3").unlink(missing_ok=True)


def from_cache(backend: str, key: str, data_dir: Path, pg_name: str | None) -> dict[str, Any] | None:
    """Copy the cached seeded database into this run's; ``None`` when there is none (or it can't be copied)."""
    meta = CACHE / f"{key}.{backend}.json"
    if not meta.exists():
        return None
    try:
        if backend == "postgresql":
            import psycopg

            assert pg_name
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                tpl = PG_TEMPLATE + key
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (tpl,)).fetchone():
                    return None
                conn.execute(f'DROP DATABASE "{pg_name}"')
                try:
                    # PostgreSQL 15's default WAL_LOG strategy: FILE_COPY was ~25% faster on an idle
                    # server but half as fast with other work running (it waits for two checkpoints).
                    conn.execute(f'CREATE DATABASE "{pg_name}" TEMPLATE "{tpl}"')
                except psycopg.Error:
                    conn.execute(f'CREATE DATABASE "{pg_name}"')  # seed afresh into an empty one
                    raise
        else:
            src = CACHE / f"{key}.sqlite3"
            if not src.exists():
                return None
            shutil.copyfile(src, data_dir / "cityops.sqlite3")
    except Exception as exc:
        console.print(f"\\[{backend}] seeding cache not usable ({exc!r}); seeding afresh")
        return None
    meta.touch()  # most recently used
    sizes: dict[str, Any] = json.loads(meta.read_text())
    return sizes


def seed_cache(backend: str, key: str, prof: dict[str, Any], figs: set[str], work: Path) -> None:
    """Seed a new database and make it the cached one for ``key`` (no copy: PostgreSQL renames the seeded
    database to the template's name, SQLite moves the file). On failure the cache stays without it."""
    import psycopg

    p = new_database(backend, work / f"seed-{backend}")
    try:
        sizes = seed_into(p, prof, figs)
        t0 = time.perf_counter()
        if backend == "postgresql":
            assert p.pg_name
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (p.pg_name,)
                )
                conn.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE + key}"')
                conn.execute(f'ALTER DATABASE "{p.pg_name}" RENAME TO "{PG_TEMPLATE + key}"')
            p.pg_name = None
        else:
            fold_wal(p.data_dir / "cityops.sqlite3")
            tmp = CACHE / f"{key}.sqlite3.tmp"
            shutil.move(p.data_dir / "cityops.sqlite3", tmp)  # a rename on the same filesystem
            os.replace(tmp, CACHE / f"{key}.sqlite3")
        (CACHE / f"{key}.{backend}.json").write_text(json.dumps(sizes))
        console.print(f"\\[{backend}] kept in the seeding cache ({key}) in {time.perf_counter() - t0:.1f} s")
    except Exception:
        console.print_exception()
        console.print(f"\\[{backend}] could not seed into the cache; seeding this run's database instead")
    finally:
        if p.pg_name:
            drop_pg_db(p.pg_name)
        shutil.rmtree(p.data_dir, ignore_errors=True)


def evict(backend: str, keep: int) -> None:
    """Drop this backend's cached databases but the ``keep`` most recently used (the run's clean-up);
    one that another run holds (seeding or copying it) stays until a later eviction."""
    import fcntl

    import psycopg

    metas = sorted(CACHE.glob(f"*.{backend}.json"), key=lambda p: p.stat().st_mtime, reverse=True)

    def seed_seconds(meta: Path) -> float:
        try:
            return float(json.loads(meta.read_text()).get("seed_seconds", 0))
        except (OSError, ValueError, AttributeError):
            return 0.0

    # Checks at --scale 0.05 come and go; they must not push out the costly seed at the sizes
    # (a minute or more to rebuild, for every run on the machine): the two most recently used of those stay.
    costly = [m for m in metas if seed_seconds(m) >= COSTLY_SEED_S][:2]
    for old in [m for m in metas[keep:] if m not in costly]:
        old_key = old.name.split(".", 1)[0]
        with (CACHE / f"{old_key}.{backend}.lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue
            try:
                if backend == "postgresql":
                    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE + old_key}"')
                else:
                    (CACHE / f"{old_key}.sqlite3").unlink(missing_ok=True)
                old.unlink()
            except psycopg.Error as exc:
                console.print(f"\\[{backend}] could not drop the cached {old_key} yet: {exc!r}")
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        (CACHE / f"{old_key}.{backend}.lock").unlink(missing_ok=True)


SHAPE_DATASTREAMS = 200  # the stations' datastreams the request shapes post to
# Issue #22's targets per shape (path, datastreams, rows): (text, test on (req/s, obs/s)).
SHAPE_TARGETS: dict[tuple[str, int, int], tuple[str, Any]] = {
    ("CreateObservations", 10, 1): ("≥ 1,000 req/s (Orion-LD: 3,500)", lambda rps, ops: rps >= 1000),
    ("CreateObservations", 100, 100): ("≥ 100,000 obs/s", lambda rps, ops: ops >= 100_000),
    ("Observations", 1, 1): ("≥ 2,000 req/s", lambda rps, ops: rps >= 2000),
}


def shape_rows(
    server: Server, pg: PgCpu | None, p: Prepared, prof: dict[str, Any], sizes: dict[str, Any], sampled: Any
) -> list[Row]:
    """The request shapes a province sends (#22, :mod:`bench.shapes`): one row each, req/s against the
    store's limit for the same rows in transactions of the same size, measured just before."""
    from bench import shapes

    backend = p.backend
    auth = {"authorization": "Basic " + base64.b64encode(f"bench:{sizes['key']}".encode()).decode()}

    def connect() -> Any:
        if backend == "postgresql":
            import psycopg

            return psycopg.connect(p.limit_url)
        import sqlite3

        lite = sqlite3.connect(str(Path(p.limit_url).with_name("bench_limit_small.sqlite3")))
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("PRAGMA synchronous=NORMAL")
        return lite

    def cpu() -> Any:
        mark = cpu_mark(server, pg)

        def read(n: int) -> tuple[float, str]:
            total = server.cpu_seconds() - mark
            return total, cpu_note(server, pg, mark, n, "req", 1e3, "ms")[1]

        return read

    out: list[Row] = []
    for shape in shapes.SHAPES:
        name, per_request, nrows, path = shape
        with guard(out, name, backend), sampled(f"shape-{per_request}x{nrows}"):
            fig = shapes.measure_figure(
                shape, server.url, auth, sizes["shape_ds"], prof["shape_clients"],
                prof["shape_seconds"], connect, backend == "postgresql", cpu,
            )  # fmt: skip
            r = fig.result
            limit = fig.limit_obs_s / fig.rows_per_request if fig.limit_obs_s else None
            target, test = SHAPE_TARGETS.get((path, per_request, nrows), ("", None))
            ok = None if test is None or r.errors else bool(test(r.rps, r.ops))
            out.append(
                Row(name, backend, r.rps if not r.errors else None, "req/s", limit, "store limit, req/s",
                    (r.rps / limit) if limit else None, target, ok,
                    f"{prof['shape_clients']} clients; {fig.note()}")
            )  # fmt: skip
    return out


def store_row(backend: str, limit: float | None) -> Row:
    return Row(
        "store limit (raw bulk insert)",
        backend,
        limit,
        "obs/s",
        note="SQLite executemany, un-indexed table, own file" if backend == "sqlite" else "COPY, un-indexed",
    )


def seed_for(sessions: Any, prof: dict[str, Any], figs: set[str], backend: str = "") -> dict[str, Any]:
    """Seed only what the picked figures read; returns ids, sizes and per-step seconds."""
    out: dict[str, Any] = {"ingest_ds": [], "agg_ds": None, "mqtt_ds": None, "obs_total": 0, "cases": 0}
    steps: dict[str, float] = {}
    t_all = time.perf_counter()

    def step(name: str, t0: float) -> None:
        steps[name] = round(time.perf_counter() - t0, 1)

    def seed_cases() -> None:
        with sessions() as s:
            t0 = time.perf_counter()
            seed.cases(s, prof["cases"])
            out["cases"] = prof["cases"]
            step("cases", t0)

    # No spinner: both backends seed at once, from two threads.
    console.print(f"\\[{backend}] seeding…")
    # PostgreSQL: the cases (their own table) load on a second connection while the observations load;
    # SQLite has one writer at a time, so there they follow.
    cases_job = None
    if figs & {"map", "ioc"} and backend == "postgresql":
        cases_job = ThreadPoolExecutor(max_workers=1)
        cases_done = cases_job.submit(seed_cases)
    with sessions() as s:
        if figs & {"ingest", "shapes"}:
            out["key"] = seed.ingest_key(s)
        if "shapes" in figs:
            out["shape_ds"] = seed.stations(s, SHAPE_DATASTREAMS, with_latest=False)
        if figs & {"ingest", "store"}:
            out["ingest_ds"] = seed.stations(s, prof["clients"], with_latest=False)
        series: list[tuple[int, datetime, int]] = []
        if "aggregate" in figs:
            (out["agg_ds"],) = seed.stations(s, 1, with_latest=False)
            series.append(
                (out["agg_ds"], seed.YEAR_END - timedelta(days=prof["agg_days"]), prof["agg_days"] * 24 * 60)
            )
        if "mqtt" in figs:
            (out["mqtt_ds"],) = seed.stations(s, 1, with_latest=False)
        if figs & {"filter", "ioc"}:
            rest = max(0, prof["obs_total"] - sum(n for _, _, n in series))
            per = prof.get("obs_per_datastream", 500_000)
            filter_ds = seed.stations(s, max(1, -(-rest // per)), with_latest=False)
            series += [(ds, seed.YEAR_START, rest // len(filter_ds)) for ds in filter_ds]
        if series:
            t0 = time.perf_counter()
            rollups = frozenset([out["agg_ds"]] if out["agg_ds"] else [])
            out["obs_total"] = seed.observations(s, series, rollups_for=rollups)
            step("observations", t0)
        if figs & {"latest", "ioc"}:
            t0 = time.perf_counter()
            seed.stations(s, prof["latest_n"], with_latest=True)
            step("latest stations", t0)
        if figs & {"map", "ioc"}:
            if cases_job is None:
                seed_cases()
        elif "reports" in figs:
            seed.categories(s)
    if cases_job is not None:
        cases_done.result()
        cases_job.shutdown()
    out["steps"] = steps
    out["seed_seconds"] = round(time.perf_counter() - t_all, 1)
    return out


def report_load(
    server: Server, pg: PgCpu | None, prof: dict[str, Any], backend: str, category: str
) -> list[Row]:
    cmd = [
        sys.executable,
        "-m",
        "bench.loadgen",
        server.url,
        str(prof["report_clients"]),
        str(prof["report_seconds"]),
        category,
    ]
    mark = cpu_mark(server, pg)
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    _, cpu = cpu_note(server, pg, mark, out["ok"], "report", 1e3, "ms")
    lat = [x * 1000 for x in out["latencies"]]
    rate = out["ok"] / out["elapsed"]
    err = f"; errors {out['errors']}" if out["errors"] else ""
    c = prof["report_clients"]
    return [
        Row(
            f"report submission, {c} clients",
            backend,
            rate,
            "reports/s",
            target="≥ 1,000/s",
            met=rate >= 1000,
            note=f"{out['ok']} in {out['elapsed']:.1f} s; {cpu}{err}",
        ),
        Row(
            f"report submission, {c} clients p50", backend, pct(lat, 0.5), "ms", note=f"of {len(lat)} reports"
        ),
        Row(
            f"report submission, {c} clients p99",
            backend,
            pct(lat, 0.99),
            "ms",
            target="< 100 ms",
            met=pct(lat, 0.99) < 100,
        ),
    ]


def mqtt_figure(
    env: dict[str, str],
    work: Path,
    prof: dict[str, Any],
    backend: str,
    sa_url: str,
    ds_id: int,
    spy: Spy | None,
) -> tuple[Row, float | None]:
    from bench import mqtt_bench

    reason = mqtt_bench.unavailable()
    if reason:
        row = Row("MQTT QoS 1, one observation per message", backend, None, "msg/s", target=mqtt_bench.TARGET,
                  note=f"not measured: {reason}")  # fmt: skip
        return row, None
    try:
        result: tuple[Row, float | None] = mqtt_bench.measure(
            env, Server, work, prof, backend, sa_url, ds_id, Row, spy
        )
    except Exception as exc:
        console.print_exception()
        row = Row("MQTT QoS 1, one observation per message", backend, None, "msg/s", target=mqtt_bench.TARGET,
                  note=f"failed: {exc!r}"[:300])  # fmt: skip
        return row, None
    return result


# --- output --------------------------------------------------------------------------------------


def fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if unit in ("ms",):
        return f"{v:,.1f}"
    if unit in ("MB",):
        return f"{v:,.0f}"
    if abs(v) < 10:
        return f"{v:.2f}"
    return f"{v:,.0f}"


def render(rows: list[Row]) -> Table:
    t = Table(title="cityops benchmarks")
    for col in ("figure", "backend", "value", "unit", "baseline", "ratio", "target", "met?", "note"):
        t.add_column(col, overflow="fold")
    for r in rows:
        met = "—" if r.met is None else ("[green]yes[/green]" if r.met else "[red]no[/red]")
        base = f"{fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else ""
        t.add_row(r.figure, r.backend, fmt(r.value, r.unit), r.unit, base, ratio, r.target, met, r.note)
    return t


def markdown(rows: list[Row]) -> str:
    lines = [
        "| figure | backend | value | unit | baseline | ratio | target | met? | note |",
        "|---|---|---:|---|---|---:|---|---|---|",
    ]
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        base = f"{fmt(r.baseline)} ({r.baseline_name})" if r.baseline is not None else ""
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else ""
        note = r.note.replace("|", "\\|")
        lines.append(
            f"| {r.figure.replace('|', '/')} | {r.backend} | {fmt(r.value, r.unit)} | {r.unit} | {base} "
            f"| {ratio} | {r.target} | {met} | {note} |"
        )
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import platform

    mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    try:
        pg = subprocess.run(
            ["psql", PG_ADMIN, "-Atc", "show server_version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pg = "?"
    import sqlite3

    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--short", "--", "src"], cwd=ROOT, capture_output=True, text=True
    )
    return {
        "git": head.stdout.strip(),
        "src_uncommitted": dirty.stdout.split()[1::2],
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg,
        "kernel": platform.release(),
        "load_avg_at_start": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--no-peer", action="store_true", help="same as leaving peer out of --figures")
    ap.add_argument(
        "--figures",
        default=",".join(FIGURES),
        help=f"comma list of figures to measure (default all): {','.join(FIGURES)}",
    )
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply the profile's sizes (e.g. 0.1 for a quick check)"
    )
    ap.add_argument(
        "--no-cache",
        action="store_true",
        help="seed afresh instead of copying the database seeded by an earlier run (bench/.cache/)",
    )
    ap.add_argument(
        "--seed-only", action="store_true", help="seed (and keep in the cache) without measuring anything"
    )
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="uvicorn workers of the measured server (`cityops serve --workers`)",
    )
    ap.add_argument("--write-md", action="store_true", help="put the table into BENCHMARKS.md")
    ap.add_argument(
        "--md-from",
        type=Path,
        help="measure nothing: put the table of this results JSON (bench/results/…) into BENCHMARKS.md",
    )
    ap.add_argument(
        "--spy", action="store_true", help="sample the server with py-spy during the main figures"
    )
    args = ap.parse_args(argv)
    if args.md_from is not None:
        result = json.loads(args.md_from.read_text())
        write_md(result, markdown([Row(**r) for r in result["rows"]]))
        return
    if args.workers < 1:
        ap.error("--workers must be at least 1")
    prof = scaled(PROFILES[args.profile], args.scale)
    figs = parse_figures(args.figures)
    if args.no_peer:
        figs.discard("peer")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    started = datetime.now(UTC)
    t_run = time.perf_counter()
    info = machine()
    console.print(f"profile {args.profile} (scale {args.scale}): {prof}; figures {','.join(sorted(figs))}")
    console.print(f"machine: {info} (shared with other work: figures are indicative)")
    rows: list[Row] = []
    data_args: dict[str, Any] = {"start": datetime(2026, 11, 2, tzinfo=UTC), "workers": args.workers}
    timings: dict[str, float] = {}
    work = Path(tempfile.mkdtemp(prefix="cityops-bench-"))
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    spy = Spy(RESULTS / f"{stamp}-profiles") if args.spy else None
    prepared: dict[str, Prepared] = {}
    peer_stores: dict[str, peer.PeerStore] = {}
    used_stores: list[peer.PeerStore] = []
    try:
        # Seeding (cold cache) and copying (warm) are not measured: both backends at once, before any figure.
        t0 = time.perf_counter()
        peers = "peer" in figs and not args.seed_only
        with ThreadPoolExecutor(max_workers=2 * max(1, len(backends))) as pool:
            futures = {
                b: pool.submit(
                    prepare_backend, b, prof, work, figs, not args.no_cache, args.seed_only, args.workers
                )
                for b in backends
            }
            peer_futures = {b: pool.submit(prepare_peer, work, b, 1) for b in (backends if peers else [])}
            for b, fut in futures.items():
                try:
                    prepared[b] = fut.result()
                except Exception as exc:
                    console.print_exception()
                    rows.append(Row("backend run", b, None, "", note=f"failed to prepare: {exc!r}"[:300]))
            for b, pfut in peer_futures.items():
                peer_stores[b] = pfut.result()
        timings["prepare"] = time.perf_counter() - t0
        for b, p in prepared.items():
            timings.update({f"{b} {k}": v for k, v in p.timings.items()})
        for backend in backends if not args.seed_only else []:
            if backend not in prepared:
                continue
            t0 = time.perf_counter()
            try:
                rows.extend(measure_backend(prepared[backend], prof, work, data_args, spy, figs))
            except Exception as exc:
                console.print_exception()
                rows.append(Row("backend run", backend, None, "", note=f"failed: {exc!r}"[:300]))
            timings[f"{backend} figures"] = time.perf_counter() - t0
            console.print(f"\\[{backend}] figures in {timings[f'{backend} figures']:.0f} s")
            console.print(render([r for r in rows if r.backend == backend]))  # shown now, in case of Ctrl-C
            RESULTS.mkdir(parents=True, exist_ok=True)
            partial = {"started": started.isoformat(), "profile": args.profile, "partial": True}
            (RESULTS / f"{stamp}.partial.json").write_text(
                json.dumps({**partial, "rows": [asdict(r) for r in rows]}, indent=1, default=str)
            )
        if "peer" in figs and not args.seed_only:
            t0 = time.perf_counter()
            rows.extend(peer_rows(work, prof, data_args, backends, peer_stores, used_stores))
            timings["peer"] = time.perf_counter() - t0
    finally:
        # Dropping a PostgreSQL database waits for a checkpoint (seconds on a busy server): all at once, at the end.
        t0 = time.perf_counter()
        for p in prepared.values():
            if p.server is not None:  # its figures never ran (a failure before them)
                with contextlib.suppress(Exception):
                    p.server.stop()
        drops: list[Callable[[], None]] = [
            functools.partial(drop_pg_db, p.pg_name) for p in prepared.values() if p.pg_name
        ]
        drops += [store.drop for store in [*peer_stores.values(), *used_stores]]
        if not args.no_cache:  # old cached databases go now, not while seeding
            drops += [functools.partial(evict, b, KEEP) for b in backends]
        with ThreadPoolExecutor(max_workers=max(1, len(drops))) as dropper:
            for done in [dropper.submit(d) for d in drops]:
                with contextlib.suppress(Exception):
                    done.result()
        # the servers' logs (WARNING and up: a figure's 500s leave their tracebacks there) outlive the run
        logs = RESULTS / f"{stamp}-logs"
        for log in work.rglob("*.log"):
            if log.stat().st_size:
                logs.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(
                    log, logs / f"{log.parent.name}-{log.name}" if log.parent != work else logs / log.name
                )
        shutil.rmtree(work, ignore_errors=True)
        timings["clean-up"] = time.perf_counter() - t0
    if args.seed_only:
        console.print(f"seeded in {time.perf_counter() - t_run:.0f} s")
        return
    console.print(render(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    if spy:
        for name, text in spy.summaries.items():
            console.print(f"[bold]profile {name}[/bold]\n{text}")
    timings["total"] = time.perf_counter() - t_run
    console.print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    console.print("per figure: " + ", ".join(f"{k} {v:.1f} s" for k, v in FIGURE_SECONDS.items()))
    result = {
        "started": started.isoformat(),
        "profile": args.profile,
        "scale": args.scale,
        "figures": sorted(figs),
        "settings": prof,
        "workers": args.workers,
        "machine": info,
        "seconds": (datetime.now(UTC) - started).total_seconds(),
        "timings": {k: round(v, 1) for k, v in timings.items()},
        "load_avg_at_end": os.getloadavg(),
        "figure_seconds": {k: round(v, 1) for k, v in FIGURE_SECONDS.items()},
        "rows": [asdict(r) for r in rows],
    }
    path = RESULTS / f"{stamp}.json"
    path.write_text(json.dumps(result, indent=1, default=str))
    (RESULTS / f"{stamp}.partial.json").unlink(missing_ok=True)
    console.print(f"wrote {path.relative_to(ROOT)}")
    if args.write_md:
        write_md(result, markdown(rows))


def prepare_peer(work: Path, backend: str, attempt: int) -> peer.PeerStore:
    """The peer's store on the same kind of store as ``backend`` (never raises: the store says why not)."""
    try:
        pg = PG_ADMIN if backend == "postgresql" else None
        return peer.prepare(work / f"peer-{backend}-{attempt}", pg, start=attempt == 1)
    except Exception as exc:
        return peer.PeerStore(work, {}, error=f"not measured: peer store not made: {exc!r}"[:300])


def peer_rows(
    work: Path,
    prof: dict[str, Any],
    data_args: dict[str, Any],
    backends: list[str],
    stores: dict[str, peer.PeerStore],
    used: list[peer.PeerStore],
) -> list[Row]:
    """The peer on the same stores as ours (SQLite; PostgreSQL), and each of our ingest rates against it.

    A failed peer run is tried once more (on a fresh store); if it fails again its row says why."""
    ours = data_args.get("ours", {})
    ours_cpu = data_args.get("ours_cpu", {})
    rows: list[Row] = []
    for backend in backends:
        label = "peer (SQLite)" if backend == "sqlite" else "peer (PostgreSQL)"
        result = None
        for attempt in (1, 2):
            store = stores.pop(backend, None) or prepare_peer(work, backend, attempt)
            used.append(store)  # the run drops its database at the end
            with console.status(f"{label}…"):
                result = peer.measure(store, prof, data_args["start"], batches, payload, post_batches)
            if result.rate is not None or "venv" in (store.error or ""):
                break
            console.print(f"[yellow]{label}: {result.note}; trying once more[/yellow]")
        assert result is not None
        note = result.note + (" (second attempt)" if attempt == 2 and result.rate else "")
        rows.append(Row("peer: django-ogc-sensorthings CreateObservations", label, result.rate, "obs/s",
                        note=note))  # fmt: skip
        if backend in ours:
            v, rate = ours[backend], result.rate
            cpu = ""
            mine, theirs = ours_cpu.get(backend), result.cpu_per_obs
            if mine and theirs:
                cpu = (
                    f"server CPU per observation: ours {mine * 1e6:,.0f} µs, peer {theirs * 1e6:,.0f} µs "
                    f"({theirs / mine:.1f}×)"
                )
            rows.append(
                Row(
                    "STA dataArray ingest vs peer on the same store",
                    backend,
                    v,
                    "obs/s",
                    rate,
                    label,
                    (v / rate) if (v and rate) else None,
                    "≥ 20× peer",
                    bool(v and rate and v / rate >= 20) if rate else None,
                    cpu if rate else f"peer not measured: {result.note}",
                )
            )
    return rows


PHASES = ("prepare", "peer", "clean-up")  # with "<backend> figures": the phases the table's header shows


def write_md(result: dict[str, Any], table: str) -> None:
    md = ROOT / "BENCHMARKS.md"
    # each profile has its own block: the quick run's table and the full run's
    mark = "table" if result["profile"] == "quick" else result["profile"]
    begin, end = f"<!-- bench:{mark}:begin -->", f"<!-- bench:{mark}:end -->"
    m = result["machine"]
    block = (
        f"{begin}\n\nProfile **{result['profile']}**, run {result['started'][:19]} UTC, "
        f"{result['seconds']:.0f} s"
        + (
            f" ({', '.join(f'{k} {v:.0f} s' for k, v in result['timings'].items() if k in PHASES or k.endswith(' figures'))})"
            if result.get("timings")
            else ""
        )
        + f". Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB, "
        f"Python {m['python']}, SQLite {m['sqlite']}, PostgreSQL {m['postgresql']}, load average at start "
        f"{', '.join(f'{x:.1f}' for x in m['load_avg_at_start'])}"
        + (
            f" (at the end {', '.join(f'{x:.1f}' for x in result['load_avg_at_end'])})"
            if "load_avg_at_end" in result
            else ""
        )
        + f", git {m['git']}"
        + (f" (uncommitted in src: {', '.join(m['src_uncommitted'])})" if m["src_uncommitted"] else "")
        + ". **The machine was shared with other work during this run (other builds and test suites on the "
        "same 2 cores); treat the figures as indicative and compare ratios within one run.**\n\n"
        + table
        + f"\n\n{end}"
    )
    text = md.read_text() if md.exists() else f"# Benchmarks\n\n{begin}\n{end}\n"
    if begin in text and end in text:
        text = text.split(begin)[0] + block + text.split(end, 1)[1]
    else:
        text += "\n" + block + "\n"
    md.write_text(text)


if __name__ == "__main__":
    main()

"""The peer: django-ogc-sensorthings in its own venv (``bench/.venv-peer``), fed the same dataArray batches.

The venv is made by ``make bench`` (``pip install django-ogc-sensorthings uvicorn psycopg[binary]``). The
peer runs its Django ORM backend on its own SQLite file (WAL, synchronous=NORMAL like ours) or on its own
fresh PostgreSQL database (dropped afterwards), served by uvicorn.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.server import PgCpu, cpu_seconds, free_port, process_tree

HERE = Path(__file__).resolve().parent
VENV_PY = HERE / ".venv-peer" / "bin" / "python"


def _setup(api: str, n: int) -> list[str]:
    """``n`` Datastreams, each on its own Thing at its own Location (like our seeded stations); returns ids.

    One Thing per Datastream matters: the peer resolves a Datastream's FeatureOfInterest with an unlocked
    ``get_or_create`` on the Location's GeoJSON, so two first batches for two Datastreams of one Thing,
    posted at the same moment, can each create it; every later batch then fails on the duplicate
    (``MultipleObjectsReturned``) and the peer answers 201 with an "error" link per row. That is what
    dropped the peer figure from the 06:32 run.
    """
    with httpx.Client(timeout=30) as http:

        def create(path: str, body: dict[str, Any]) -> str:
            r = http.post(f"{api}/{path}", json=body)
            if r.status_code != 201:
                raise RuntimeError(f"peer refused POST {path}: {r.status_code} {r.text[:300]}")
            return r.headers["location"].split("('", 1)[1].rstrip("')")

        sensor = create(
            "Sensors", {"name": "s", "description": "d", "encodingType": "text/html", "metadata": "m"}
        )
        prop = create("ObservedProperties", {"name": "Temperature", "definition": "x", "description": "d"})
        out = []
        for i in range(n):
            thing = create(
                "Things",
                {
                    "name": f"bench station {i}",
                    "description": "bench",
                    "Locations": [
                        {
                            "name": f"bench {i}",
                            "description": "bench",
                            "encodingType": "application/geo+json",
                            "location": {"type": "Point", "coordinates": [106.1 + i / 1000, 11.1]},
                        }
                    ],
                },
            )
            out.append(
                create(
                    "Datastreams",
                    {
                        "name": f"bench {i}",
                        "description": "bench",
                        "unitOfMeasurement": {
                            "name": "degree Celsius",
                            "symbol": "°C",
                            "definition": "ucum:Cel",
                        },
                        "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                        "Thing": {"@iot.id": thing},
                        "Sensor": {"@iot.id": sensor},
                        "ObservedProperty": {"@iot.id": prop},
                    },
                )
            )
        return out


@dataclass
class PeerResult:
    """obs/s the peer acknowledged (``None`` when not measured), a note (why not, when not), and its
    server's CPU seconds per observation (plus its PostgreSQL backends', on PostgreSQL)."""

    rate: float | None
    note: str
    cpu_per_obs: float | None = None


def measure(
    work: Path,
    prof: dict[str, Any],
    start: datetime,
    batches: Callable[..., Any],
    payload: Callable[..., bytes],
    post: Callable[..., tuple[int, float, list[str]]],
    pg_admin: str | None = None,
) -> PeerResult:
    """The peer fed our batches: obs/s acknowledged, or the reason it could not be measured.

    With ``pg_admin`` (a URL of PostgreSQL's maintenance database) the peer gets its own new database
    there; otherwise its own SQLite file.
    """
    if pg_admin is None:
        return _measure(work, prof, start, batches, payload, post, None, None)
    import psycopg

    name = f"peer_bench_{os.getpid()}_{int(time.time())}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{pg_admin.rsplit('/', 1)[0]}/{name}"
        return _measure(work, prof, start, batches, payload, post, url, PgCpu(pg_admin, name))
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _measure(
    work: Path,
    prof: dict[str, Any],
    start: datetime,
    batches: Callable[..., Any],
    payload: Callable[..., bytes],
    post: Callable[..., tuple[int, float, list[str]]],
    database_url: str | None,
    pg: PgCpu | None,
) -> PeerResult:
    if not VENV_PY.exists():
        return PeerResult(None, "not measured: bench/.venv-peer missing (run `make bench`, which creates it)")
    check = subprocess.run(
        [str(VENV_PY), "-c", "import sensorthings, django, uvicorn"], capture_output=True, text=True
    )
    if check.returncode:
        why = check.stderr.strip().splitlines()[-1][:200]
        return PeerResult(None, f"not measured: peer venv incomplete: {why}")
    data_dir = work / ("peer-pg" if database_url else "peer")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CITYOPS_", "VIRTUAL_ENV"))},
        "PEER_DATA_DIR": str(data_dir),
        "PEER_URL": url,
        "DJANGO_SETTINGS_MODULE": "peer_project.settings",
    }
    if database_url:
        env["PEER_DATABASE_URL"] = database_url
    mig = subprocess.run(
        [str(VENV_PY), "-m", "django", "migrate", "-v", "0"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
    )
    if mig.returncode:
        return PeerResult(None, f"not measured: peer migrate failed: {mig.stderr.strip()[-300:]}")
    log = (data_dir / "server.log").open("w")
    proc = subprocess.Popen(
        [str(VENV_PY), "-m", "uvicorn", "peer_project.asgi:application", "--port", str(port), "--log-level",
         "warning"],
        cwd=HERE,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        api = f"{url}/sensorthings/v1.1"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api}/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (data_dir / "server.log").read_text()[-300:]
                return PeerResult(None, f"not measured: peer server did not start: {tail}")
            time.sleep(0.2)
        ds = _setup(api, prof["clients"])
        # warm-up, one client after the other (each Datastream's FeatureOfInterest is made here)
        for c, w in enumerate(batches(ds, 1, 100, start.replace(year=start.year - 1))):
            _, _, errors = post(f"{api}/CreateObservations", [[payload(ds[c], w[0])]], {})
            if errors:
                return PeerResult(None, f"not measured: peer warm-up answered {errors[0][:200]}")
        per = prof["peer_batches_per_client"]
        data = batches(ds, per, prof["batch"], start)
        bodies = [[payload(ds[c], b) for b in mine] for c, mine in enumerate(data)]
        pids = process_tree(proc.pid)
        cpu0, db0 = cpu_seconds(pids), (pg.snapshot() if pg else {})
        acked, secs, errors = post(f"{api}/CreateObservations", bodies, {})
        cpu = cpu_seconds(pids) - cpu0
        db = pg.since(db0) if pg else None
        if errors:
            return PeerResult(None, f"not measured: peer answered {errors[0][:200]}")
        if not acked:
            return PeerResult(None, "not measured: the peer acknowledged no rows")
        store = "PostgreSQL (own database)" if database_url else "SQLite (WAL)"
        note = (
            f"django-ogc-sensorthings, Django ORM on {store}, uvicorn 1 worker; "
            f"{prof['clients']} clients × {per} batches of {prof['batch']}; server CPU {cpu / acked * 1e6:,.0f} µs/obs"
            + (f", PostgreSQL backends {db / acked * 1e6:,.0f} µs/obs" if db is not None else "")
        )
        return PeerResult(acked / secs, note, cpu / acked)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

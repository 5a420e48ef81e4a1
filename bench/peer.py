"""The peer: django-ogc-sensorthings in its own venv (``bench/.venv-peer``), fed the same dataArray batches.

The venv is made by ``make bench`` (``pip install django-ogc-sensorthings uvicorn psycopg[binary]``). The
peer runs its Django ORM backend on its own SQLite file (WAL, synchronous=NORMAL like ours) or on its own
fresh PostgreSQL database (dropped afterwards), served by uvicorn.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from bench.server import cpu_seconds, end_process, free_port, process_tree, signal_tree

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
    server process's CPU seconds per observation."""

    rate: float | None
    note: str
    cpu_per_obs: float | None = None


@dataclass
class PeerStore:
    """The peer's store, migrated ahead of its figure (the run prepares it with our databases): its own
    SQLite file, or its own new PostgreSQL database. ``error`` says why it could not be made."""

    data_dir: Path
    env: dict[str, str]
    pg_admin: str | None = None
    pg_name: str | None = None
    error: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""

    def start(self) -> str | None:
        """Serve the peer with uvicorn on a free port; returns why not, if it did not answer."""
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with (self.data_dir / "server.log").open("w") as log:
            self.proc = subprocess.Popen(
                [str(VENV_PY), "-m", "uvicorn", "peer_project.asgi:application", "--port", str(port),
                 "--log-level", "warning"],
                cwd=HERE,
                env={**self.env, "PEER_URL": self.url},
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/sensorthings/v1.1/", timeout=1).status_code == 200:
                    return None
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                return f"not measured: peer server did not start: {(self.data_dir / 'server.log').read_text()[-300:]}"
            time.sleep(0.2)

    def signal(self, sig: int) -> None:
        if self.proc is not None:
            signal_tree(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)  # if paused, it would hold SIGTERM until continued
        end_process(self.proc)
        self.proc = None

    @property
    def label(self) -> str:
        return "PostgreSQL (own database)" if self.pg_name else "SQLite (WAL)"

    def drop(self) -> None:
        """Stop its server and drop the peer's PostgreSQL database (its SQLite file goes with the work dir)."""
        self.stop()
        if self.pg_admin and self.pg_name:
            import psycopg

            with psycopg.connect(self.pg_admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self.pg_name = None


def prepare(work: Path, pg_admin: str | None = None, start: bool = False) -> PeerStore:
    """Check the peer's venv and migrate its store. With ``pg_admin`` (a URL of PostgreSQL's maintenance
    database) the peer gets its own new database there; otherwise its own SQLite file. ``start``: also
    start its server and pause it (``SIGSTOP``) until ``measure``."""
    data_dir = work
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CITYOPS_", "VIRTUAL_ENV"))},
        "PEER_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "peer_project.settings",
    }
    store = PeerStore(data_dir, env, pg_admin)
    if not VENV_PY.exists():
        store.error = "not measured: bench/.venv-peer missing (run `make bench`, which creates it)"
        return store
    if pg_admin is not None:
        import psycopg

        store.pg_name = f"peer_bench_{os.getpid()}_{time.time_ns() // 1000 % 10**9}"
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{store.pg_name}"')
        env["PEER_DATABASE_URL"] = f"{pg_admin.rsplit('/', 1)[0]}/{store.pg_name}"
    mig = subprocess.run(
        [str(VENV_PY), "-m", "django", "migrate", "-v", "0"],
        cwd=HERE,
        env=env,
        capture_output=True,
        text=True,
    )
    if mig.returncode:
        store.error = f"not measured: peer migrate failed: {mig.stderr.strip()[-300:]}"
    elif start:
        # started ahead (Django's start-up is seconds of CPU on a loaded machine), paused until its figure
        store.error = store.start()
        store.signal(signal.SIGSTOP)
    return store


def measure(
    store: PeerStore,
    prof: dict[str, Any],
    start: datetime,
    batches: Callable[..., Any],
    payload: Callable[..., bytes],
    post: Callable[..., tuple[int, float, list[str]]],
) -> PeerResult:
    """The peer, served by uvicorn on ``store``, fed our batches: obs/s acknowledged, or why not measured."""
    if store.error:
        return PeerResult(None, store.error)
    if store.proc is None:
        why = store.start()
        if why:
            return PeerResult(None, why)
    else:
        store.signal(signal.SIGCONT)
    assert store.proc is not None
    proc = store.proc
    try:
        api = f"{store.url}/sensorthings/v1.1"
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
        # Only the server process's CPU: Django closes its database connection after each request
        # (CONN_MAX_AGE 0), so the PostgreSQL backends that did the work are gone before they can be read.
        cpu0 = cpu_seconds(pids)
        acked, secs, errors = post(f"{api}/CreateObservations", bodies, {})
        cpu = cpu_seconds(pids) - cpu0
        if errors:
            return PeerResult(None, f"not measured: peer answered {errors[0][:200]}")
        if not acked:
            return PeerResult(None, "not measured: the peer acknowledged no rows")
        note = (
            f"django-ogc-sensorthings, Django ORM on {store.label}, uvicorn 1 worker; "
            f"{prof['clients']} clients × {per} batches of {prof['batch']}; "
            f"server CPU {cpu / acked * 1e6:,.0f} µs/obs"
        )
        return PeerResult(acked / secs, note, cpu / acked)
    finally:
        store.stop()

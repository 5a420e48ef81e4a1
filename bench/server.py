"""The real server as a separate process: ``cityops db upgrade`` then ``cityops serve`` on a free port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# The venv's console script may carry a stale shebang; run the CLI through this interpreter instead.
CITYOPS = [sys.executable, "-c", "from cityops.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update({"CITYOPS_DATA_DIR": str(data_dir), "CITYOPS_LOG_LEVEL": "WARNING", "CITYOPS_ENV": "dev"})
    if database_url:
        env["CITYOPS_DATABASE_URL"] = database_url
    env.update(extra)
    return env


def upgrade(env: dict[str, str]) -> None:
    Path(env["CITYOPS_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    subprocess.run([*CITYOPS, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)


def at_head(sa_url: str) -> bool:
    """Whether the database's Alembic revision is the migrations' head (then ``upgrade`` has nothing to do)."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text

    from cityops.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(sa_url)).get_heads())
    engine = create_engine(sa_url)
    try:
        with engine.connect() as conn:
            current = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # no table yet: a new database
        return False
    finally:
        engine.dispose()
    return current == heads


def process_tree(pid: int) -> list[int]:
    """``pid`` and its living descendants (uvicorn's workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def working_threads(pids: list[int]) -> int:
    """Threads of these processes that are running or waiting for I/O (state R or D)."""
    n = 0
    for p in pids:
        for task in Path(f"/proc/{p}/task").glob("*/stat"):
            try:
                state = task.read_text().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            n += state in ("R", "D")
    return n


def signal_tree(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid`` and its living descendants (uvicorn's workers)."""
    for p in process_tree(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)


def end_process(proc: subprocess.Popen[Any], timeout: float = 20.0) -> None:
    """SIGTERM ``proc`` if it still runs, and SIGKILL it if it has not exited within ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes (all their threads), from /proc/<pid>/stat.

    CPU per operation stays meaningful on a loaded machine, where wall-clock rates mostly measure the load."""
    ticks = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    """``cityops serve`` in its own process; ``peak_rss_mb`` reads VmHWM from /proc, ``cpu_seconds`` the
    CPU time of the server and its workers. ``workers`` is passed as ``--workers``; ``None`` leaves it to
    ``CITYOPS_WORKERS`` in ``env`` (else 1)."""

    def __init__(self, env: dict[str, str], log: Path, workers: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.paused = False
        env = {**env, "CITYOPS_PORT": str(self.port), "CITYOPS_PUBLIC_URL": self.url}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [*CITYOPS, "serve", "--port", str(self.port)]
            + (["--workers", str(workers)] if workers is not None else []),
            env=env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code < 500:
                    if (workers or 1) > 1:
                        # the first worker answers; give the others their start-up before anything is timed
                        time.sleep(2)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start; see {log}")

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server process and its workers."""
        return cpu_seconds(process_tree(self.proc.pid))

    def wait_idle(self, max_s: float = 15.0, window_s: float = 0.25, busy: float = 0.1) -> float:
        """Wait until the server is idle — under ``busy`` of a core over two ``window_s`` windows in a row,
        and none of its threads running or in I/O at the end of either (on a loaded machine a starved
        thread uses little CPU but is still at work) — so its start-up work, such as the first SLA and
        retention sweeps, is done; at most ``max_s``. Returns the seconds waited. Otherwise that work runs
        inside the first figure and counts as its CPU, or holds a lock while the server is paused."""
        t0 = time.monotonic()
        last = self.cpu_seconds()
        quiet = 0
        while time.monotonic() - t0 < max_s and quiet < 2:
            time.sleep(window_s)
            pids = process_tree(self.proc.pid)  # one /proc scan for both readings
            now = cpu_seconds(pids)
            quiet = quiet + 1 if now - last < busy * window_s and not working_threads(pids) else 0
            last = now
        return time.monotonic() - t0

    def pause(self) -> None:
        """SIGSTOP the server and its workers: started ahead (while the databases are copied), it then
        takes no CPU from the figures measured before its own."""
        signal_tree(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        signal_tree(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def peak_rss_mb(self) -> float | None:
        """VmHWM of the server process; with several workers, of the largest worker."""
        peaks = []
        for pid in process_tree(self.proc.pid):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            peaks += [int(ln.split()[1]) / 1024 for ln in text.splitlines() if ln.startswith("VmHWM:")]
        return max(peaks) if peaks else None

    def stop(self) -> None:
        if self.paused:
            self.resume()  # a stopped process would hold SIGTERM until continued
        end_process(self.proc)
        self._log.close()


class PgCpu:
    """CPU seconds of the PostgreSQL backends serving one database (from /proc, when the server runs on
    this machine): the store's share of a figure's work, which the server process's CPU does not show.

    ``start()`` then ``stop()``: between them a thread lists the database's backends every 0.2 s and
    remembers each one's CPU time, so backends that a connection pool opens and closes during the
    figure are counted too (all but their last 0.2 s)."""

    def __init__(self, admin_url: str, dbname: str) -> None:
        self.admin_url = admin_url
        self.dbname = dbname
        self._before: dict[int, float] = {}
        self._seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self, conn: Any) -> dict[int, float]:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.dbname,)).fetchall()
        out = {}
        for (pid,) in rows:
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                    continue  # not a local PostgreSQL backend (another host, or a container)
            except OSError:
                continue
            out[int(pid)] = cpu_seconds([int(pid)])
        return out

    def start(self) -> None:
        import psycopg

        if self._thread is not None:  # a figure that failed before its stop()
            self.stop()
        self._stop.clear()
        conn = psycopg.connect(self.admin_url, autocommit=True)
        self._before = self._sample(conn)
        self._seen = dict(self._before)

        def poll() -> None:
            with conn:
                while not self._stop.wait(0.2):
                    self._seen.update(self._sample(conn))
                self._seen.update(self._sample(conn))

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """CPU seconds the database's backends used since ``start()``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        return sum(cpu - self._before.get(pid, 0.0) for pid, cpu in self._seen.items())

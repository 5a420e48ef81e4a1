"""The real server as a separate process: ``cityops db upgrade`` then ``cityops serve`` on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

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
    subprocess.run([*CITYOPS, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)


class Server:
    """``cityops serve`` in its own process; ``peak_rss_mb`` reads VmHWM from /proc."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "CITYOPS_PORT": str(self.port), "CITYOPS_PUBLIC_URL": self.url}
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [*CITYOPS, "serve", "--port", str(self.port)],
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
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start; see {log}")

    def peak_rss_mb(self) -> float | None:
        try:
            text = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

"""The single node `cluster_test.py --single` loads for comparison (#20 item 4): one `cityops serve` on this
machine's PostgreSQL (a fresh database ``cityops_single``) and Mosquitto, its event consumers and MQTT ingest in
the same process, as a province would run one server. Same load generator, same counts; no faults injected."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

import cluster

DB = "cityops_single"
PG_PORT = int(os.environ.get("SINGLE_PG_PORT", "5432"))
MQTT_PORT = int(os.environ.get("SINGLE_MQTT_PORT", "1883"))
HTTP_PORT = int(os.environ.get("SINGLE_HTTP_PORT", "17990"))


def _fresh_database() -> None:
    admin = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB}"'))
    admin.dispose()


class SingleNode:
    """Start with :meth:`up`, stop with :meth:`down`; :attr:`ports` is shaped like the cluster's."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cityops-single-"))
        self.secret = secrets.token_urlsafe(48)
        self.proc: subprocess.Popen[bytes] | None = None
        self.ports = {"pg_primary": PG_PORT, "nginx_http": HTTP_PORT, "nginx_mqtt": MQTT_PORT}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
        env.update(
            CITYOPS_ENV="production",
            CITYOPS_SECRET_KEY=self.secret,
            CITYOPS_DATA_DIR=str(self.dir / "var"),
            CITYOPS_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/{DB}",
            CITYOPS_PORT=str(HTTP_PORT),
            CITYOPS_MQTT_URL=f"mqtt://127.0.0.1:{MQTT_PORT}",
            CITYOPS_MQTT_CLIENT_ID=f"cityops-single-{self.dir.name[-6:]}",
            CITYOPS_LOG_JSON="true",
            CITYOPS_SECURITY_SUBMIT_PER_IP_PER_HOUR="1000000",  # one load generator stands for many citizens
        )
        return env

    def up(self) -> None:
        _fresh_database()
        env = self.env()
        cityops = str(cluster.VENV_BIN / "cityops")
        subprocess.run([cityops, "db", "upgrade"], env=env, check=True, capture_output=True)  # noqa: S603
        log = open(self.dir / "serve.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(  # noqa: S603 - our own venv's command
            [cityops, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        cluster.wait_port(HTTP_PORT)
        print(
            f"single node: cityops serve :{HTTP_PORT} on PostgreSQL :{PG_PORT}/{DB}, Mosquitto :{MQTT_PORT}"
        )

    def down(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)

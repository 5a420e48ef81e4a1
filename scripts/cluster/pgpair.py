# ruff: noqa: S603  (fixed commands of our own, no shell)
"""A PostgreSQL primary and its streaming replica in a directory of their own, on loopback ports.

Debian's PostgreSQL 15 binaries (``initdb``, ``pg_ctl``, ``pg_basebackup``) run as the ``postgres`` user
when we are root (PostgreSQL refuses to run as root), as ourselves otherwise. Used by the loopback cluster
(scripts/cluster/cluster.py) and by the replica read test (tests/cluster). Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("CITYOPS_PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "postgres"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", OWNER, "--", *cmd] if os.getuid() == 0 else cmd


def give_to_owner(path: Path) -> None:
    """Make ``path`` the database owner's (only needed, and only possible, as root)."""
    if os.getuid() == 0:
        entry = pwd.getpwnam(OWNER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def run(cmd: list[str], log: Path | None = None) -> None:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        subprocess.run(as_owner(cmd), check=True, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log:
            out.close()


@dataclass
class PgNode:
    data: Path
    port: int
    log: Path

    def url(self, db: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"], self.log)

    def psql(self, sql: str, db: str = "postgres") -> str:
        out = subprocess.run(
            as_owner(
                [
                    str(PG_BIN.parent / "bin" / "psql"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    "postgres",
                    "-d",
                    db,
                    "-Atqc",
                    sql,
                ]
            ),
            check=True,
            capture_output=True,
            text=True,
        )
        return out.stdout.strip()


SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
max_connections = {max_connections}
shared_buffers = 128MB
{extra}
"""


def init_primary(
    root: Path, port: int, *, max_connections: int = 200, extra: str = "", no_sync: bool = False
) -> PgNode:
    """initdb a primary in ``root/primary`` (trust on loopback, replication allowed) and start it;
    ``no_sync`` for a throwaway one (tests)."""
    root.mkdir(parents=True, exist_ok=True)
    give_to_owner(root)
    node = PgNode(root / "primary", port, root / "primary.log")
    run(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(node.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            *(["--no-sync"] if no_sync else []),
        ],
        root / "initdb.log",
    )
    with open(node.data / "postgresql.conf", "a") as conf:
        conf.write(SETTINGS.format(port=port, sockets=root, max_connections=max_connections, extra=extra))
    node.start()
    return node


def add_replica(primary: PgNode, root: Path, port: int, name: str = "replica") -> PgNode:
    """A streaming replica of ``primary`` (``pg_basebackup -R``, physical slot ``name``) on ``port``, started."""
    node = PgNode(root / name, port, root / f"{name}.log")
    run(
        [
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(node.data),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "-C",
            "-S",
            name,
        ],
        root / f"{name}-basebackup.log",
    )
    with open(node.data / "postgresql.conf", "a") as conf:
        conf.write(f"\nport = {port}\n")
    node.start()
    return node


def destroy(root: Path, nodes: list[PgNode]) -> None:
    """Stop every node (immediate: nothing to keep) and remove ``root``."""
    for node in nodes:
        with contextlib.suppress(subprocess.CalledProcessError):
            node.stop("immediate")
    shutil.rmtree(root, ignore_errors=True)

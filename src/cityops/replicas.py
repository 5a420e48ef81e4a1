"""Read-only queries on PostgreSQL streaming replicas, with read-your-writes (deployment tier 3).

Routes that only read take :data:`cityops.deps.ReadSessionDep`. With ``CITYOPS_DATABASE_REPLICA_URLS``
empty (the default, and always on SQLite) that is a session on the primary, as ``SessionDep``. With
replicas, the session is on one of them (round robin), under one rule:

**Read-your-writes.** A request that may have written (any method but GET/HEAD/OPTIONS, answered below
400) gets the primary's WAL position after it, ``pg_current_wal_lsn()``, in the response header
``X-Cityops-Written-LSN`` and in the cookie ``cityops_lsn`` (``database_read_your_writes_seconds`` long).
A read that brings such a position back (the cookie, which browsers send by themselves, or the header
``X-Cityops-Min-LSN``, for API clients) is served by a replica only once that replica has replayed it
(``pg_last_wal_replay_lsn()``), otherwise by the primary. So whoever wrote always reads what they wrote;
everyone else may read a replica that is a moment behind (streaming replication: usually milliseconds).

A replica that cannot be reached is left alone for :data:`DOWN_SECONDS` and its reads go to the
primary, so losing a replica costs capacity, never answers.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.db import make_engine, make_sessionmaker
from cityops.plugins import hookimpl
from cityops.settings import Settings

log = logging.getLogger("cityops.replicas")

LSN_COOKIE = "cityops_lsn"
LSN_HEADER = "X-Cityops-Written-LSN"
MIN_LSN_HEADER = "X-Cityops-Min-LSN"
# A PostgreSQL WAL position as pg_lsn prints it: two hexadecimal numbers, e.g. 0/16B3748.
LSN_PATTERN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
# How long a replica that failed to connect is skipped before it is tried again.
DOWN_SECONDS = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def replica_urls(settings: Settings) -> list[str]:
    """The configured replica URLs; refused (``ValueError``) unless the primary and they are PostgreSQL."""
    urls = [u.strip() for u in settings.database_replica_urls.split(",") if u.strip()]
    if not urls:
        return []
    backends = {make_url(u).get_backend_name() for u in [settings.effective_database_url, *urls]}
    if backends != {"postgresql"}:
        raise ValueError("CITYOPS_DATABASE_REPLICA_URLS needs PostgreSQL for the primary and every replica")
    return urls


def parse_lsn(value: str | None) -> int | None:
    """``value`` as a comparable integer, or None if it is not a WAL position (ignored, never an error)."""
    if not value or not LSN_PATTERN.match(value.strip()):
        return None
    high, low = value.strip().split("/")
    return (int(high, 16) << 32) | int(low, 16)


@dataclass
class _Replica:
    url: str
    sessions: sessionmaker[Session]
    down_until: float = 0.0


@dataclass
class ReadRouter:
    """Picks where a read goes: a replica that can serve it, else the primary."""

    primary: sessionmaker[Session]
    replicas: list[_Replica]
    _turn: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, min_lsn: int | None = None) -> Session:
        """A session for a read: on the next replica that is up and, if ``min_lsn`` is given, has replayed
        it; else on the primary. The check costs one short query, only for callers who wrote lately."""
        with self._lock:
            start = next(self._turn)
        now = time.monotonic()
        for i in range(len(self.replicas)):
            replica = self.replicas[(start + i) % len(self.replicas)]
            if replica.down_until > now:
                continue
            session = replica.sessions()
            try:
                if min_lsn is None:
                    session.connection()  # a dead replica fails here, not in the route
                    return session
                replayed = session.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()
                if (parse_lsn(replayed) or -1) >= min_lsn:
                    return session
            except DBAPIError:
                replica.down_until = now + DOWN_SECONDS
                log.warning(
                    "replica unreachable, reading from the primary", extra={"replica": _safe(replica.url)}
                )
            session.close()
        return self.primary()

    def dispose(self) -> None:
        for replica in self.replicas:
            engine = replica.sessions.kw["bind"]
            if isinstance(engine, Engine):
                engine.dispose()


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def requested_lsn(request: Request) -> int | None:
    """The WAL position the caller last wrote at (header first, then cookie), if any."""
    return parse_lsn(request.headers.get(MIN_LSN_HEADER)) or parse_lsn(request.cookies.get(LSN_COOKIE))


def read_session(request: Request) -> Session:
    """A session for a read-only route (see the module docstring for where it goes)."""
    router: ReadRouter | None = getattr(request.app.state, "read_router", None)
    if router is None:
        session: Session = request.app.state.sessions()
        return session
    return router.session(requested_lsn(request))


class WrittenPositionMiddleware:
    """Tells the caller of a write where the primary's WAL stood after it (header and cookie)."""

    def __init__(self, app: ASGIApp, engine: Engine, cookie_seconds: int, secure: bool) -> None:
        self.app = app
        self.engine = engine
        self.cookie_seconds = cookie_seconds
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return

        async def send_with_position(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                lsn = await anyio.to_thread.run_sync(self._position)
                if lsn is not None:
                    headers = list(message.get("headers", []))
                    headers.append((LSN_HEADER.lower().encode(), lsn.encode()))
                    cookie = (
                        f"{LSN_COOKIE}={lsn}; Max-Age={self.cookie_seconds}; Path=/; HttpOnly; SameSite=Lax"
                    )
                    headers.append((b"set-cookie", (cookie + ("; Secure" if self.secure else "")).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_position)

    def _position(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                value = conn.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()
        except DBAPIError:  # the answer still goes out; the caller's next read may then be a moment behind
            log.warning("could not read the primary's WAL position", exc_info=True)
            return None
        return str(value) if value is not None else None


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    """With replicas configured: their engines (``app.state.read_router``) and the write-position
    middleware; without, nothing (reads use the primary's sessions)."""
    urls = replica_urls(settings)
    if not urls:
        return
    replicas = [
        _Replica(url, make_sessionmaker(make_engine(url, pool_size=settings.database_pool_size)))
        for url in urls
    ]
    router = ReadRouter(app.state.sessions, replicas)
    app.state.read_router = router
    app.add_middleware(
        WrittenPositionMiddleware,
        engine=app.state.engine,
        cookie_seconds=settings.database_read_your_writes_seconds,
        secure=settings.cookie_secure,
    )

    async def dispose(_app: Any) -> None:
        router.dispose()

    app.state.async_shutdown.append(dispose)

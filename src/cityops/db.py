"""Database access: one SQLAlchemy schema for SQLite (embedded, WAL) and PostgreSQL 15.

Models of every capability derive from :class:`Base`; :mod:`cityops.models` imports them all so
Alembic and the tests see one metadata.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite stores no zone, so it is re-attached on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# How long a request waits for the database before it is refused with 503 (``errors.overload_error``):
# SQLite's busy handler for the write lock, and the pool for a free connection. Long enough to ride out a
# burst or a checkpoint, short enough that a citizen's app retries rather than hangs.
BUSY_TIMEOUT_SECONDS = 5.0
# SQLite connections kept open: one per request thread (AnyIO runs sync routes on up to 40) plus the
# background jobs. They cost a file handle each; opening one under load (connect, WAL and other
# pragmas) costs far more, which a smaller pool paid on every request beyond its size.
SQLITE_POOL_SIZE = 48


def _sqlite_pragmas(busy_timeout: float) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cur.close()

    return on_connect


def _json_dumps(value: Any) -> str:
    # orjson instead of the standard library: event payloads of large observation batches are encoded
    # and decoded on every ingest, and the standard json module was a fifth of the server's CPU there.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


JSON_CODEC: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, busy_timeout: float | None = None
) -> Engine:
    """An engine for ``url``. On PostgreSQL ``pool_size`` connections are kept and as many again opened
    under load; SQLite keeps :data:`SQLITE_POOL_SIZE`. A request that finds them all busy for
    ``busy_timeout`` seconds (default :data:`BUSY_TIMEOUT_SECONDS`) gets the pool's ``TimeoutError`` (503).
    """
    busy_timeout = BUSY_TIMEOUT_SECONDS if busy_timeout is None else busy_timeout
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            pool = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 0, "pool_timeout": busy_timeout}
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": busy_timeout},
            **JSON_CODEC,
            **pool,
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout))
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=busy_timeout,
        pool_pre_ping=True,
        **JSON_CODEC,
    )


_write_locks: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_write_locks_guard = threading.Lock()


def writer_lock(engine: Engine) -> threading.Lock:
    """This process's one SQLite writer lock for ``engine``: every writer that takes turns (submissions,
    the SLA sweep, bulk ingest) shares it, so they queue here in order instead of in SQLite's busy handler."""
    with _write_locks_guard:
        lock = _write_locks.get(engine)
        if lock is None:
            lock = _write_locks[engine] = threading.Lock()
        return lock


class WriterBusy(Exception):
    """No turn to write on SQLite within the timeout (the caller answers 503)."""


@contextmanager
def write_turn(session: Session, timeout: float | None = None) -> Iterator[None]:
    """A short write transaction on ``session``: do only writes inside, then commit.

    On SQLite, threads of this process take turns on a lock (raising :class:`WriterBusy` after
    ``timeout`` seconds, default :data:`BUSY_TIMEOUT_SECONDS`) and the transaction starts with
    ``BEGIN IMMEDIATE``, so writers queue in order here instead of in SQLite's busy handler, whose growing
    sleeps (up to 100 ms) idle the write lock under contention; other processes still wait through
    ``busy_timeout``. On PostgreSQL (row locks, MVCC) writers do not queue, but a lock held elsewhere
    (a long ``ALTER``/``LOCK TABLE``) would make them wait without end: ``lock_timeout`` bounds that, and
    the statement fails with ``lock_not_available`` (a busy conflict, see ``errors.is_busy_conflict``).
    On error the transaction is rolled back before the turn passes on.
    """
    timeout = BUSY_TIMEOUT_SECONDS if timeout is None else timeout
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        session.connection().exec_driver_sql(f"SET LOCAL lock_timeout = {int(timeout * 1000)}")
        try:
            yield
        except BaseException:
            session.rollback()
            raise
        return
    lock = writer_lock(bind.engine)
    if not lock.acquire(timeout=timeout):
        raise WriterBusy(f"no SQLite write turn within {timeout} s")
    try:
        dbapi_conn = session.connection().connection.dbapi_connection
        if dbapi_conn is not None and not dbapi_conn.in_transaction:
            # pysqlite opens transactions lazily at the first write; take the write lock now instead
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
        yield
    except BaseException:
        session.rollback()
        raise
    finally:
        lock.release()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(engine_or_session: Engine | Session) -> bool:
    bind = engine_or_session.get_bind() if isinstance(engine_or_session, Session) else engine_or_session
    return bind.dialect.name == "postgresql"

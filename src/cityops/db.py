"""Database access: one SQLAlchemy schema for SQLite (embedded, WAL) and PostgreSQL 15.

Models of every capability derive from :class:`Base`; :mod:`cityops.models` imports them all so
Alembic and the tests see one metadata.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

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
# The threads AnyIO runs sync routes on (its default limiter). On PostgreSQL the pool may open as many
# connections as there are such threads: with 10+10 for 40 threads, half the requests under load waited
# for a connection rather than for the database.
REQUEST_THREADS = 40


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
    """An engine for ``url``. On PostgreSQL ``pool_size`` connections are kept and more opened under load,
    up to :data:`REQUEST_THREADS` (at least twice ``pool_size``); SQLite keeps :data:`SQLITE_POOL_SIZE`. A request that finds them all busy for
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
        max_overflow=max(pool_size, REQUEST_THREADS - pool_size),
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


T = TypeVar("T")
R = TypeVar("R")


class _Slot(Generic[T]):
    __slots__ = ("done", "item", "outcome")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.outcome: Any = None


class GroupCommit(Generic[T, R]):
    """Concurrent writers' items written by one of them in one transaction (group commit).

    Each thread calls :meth:`run` with its item and a ``write`` function. If no batch is being written,
    the caller becomes the leader: it takes every queued item (its own included, at most ``max_batch``)
    and calls ``write(items)`` on its own session, which returns one outcome per item (a result, or the
    exception that item's caller raises). Meanwhile new items queue up and the next leader, one of their
    threads, writes them together; ``writers`` batches may be written at once (see :func:`group_commit`).
    So the per-transaction costs (write turn, ``BEGIN``, statements, commit) are shared by a batch, and no
    caller returns before the transaction with its item ended.
    """

    def __init__(self, max_batch: int = 64, writers: int = 1) -> None:
        self.max_batch = max_batch
        self.writers = writers
        self._cv = threading.Condition()
        self._queue: list[_Slot[T]] = []
        self._leading = 0  # batches being written now, at most ``writers``

    def run(self, item: T, write: Callable[[Sequence[T]], Sequence[R | BaseException]], timeout: float) -> R:
        """``item``'s outcome; :class:`WriterBusy` if no leader took it within ``timeout`` seconds (then it
        was not written)."""
        slot: _Slot[T] = _Slot(item)
        deadline = time.monotonic() + timeout
        with self._cv:
            self._queue.append(slot)
            while not slot.done:
                queued = slot in self._queue  # else a leader took it and is writing it
                if queued and self._leading < self.writers:
                    self._leading += 1
                    self._queue.remove(slot)
                    batch = [*self._queue[: self.max_batch - 1], slot]
                    del self._queue[: self.max_batch - 1]
                    break
                remaining = deadline - time.monotonic()
                if queued and remaining <= 0:
                    self._queue.remove(slot)
                    raise WriterBusy(f"no write turn within {timeout} s")
                # once a leader took the item, wait for its transaction to end, however long it takes
                self._cv.wait(remaining if queued else None)
        if not slot.done:
            outcomes: Sequence[R | BaseException]
            try:
                outcomes = write([s.item for s in batch])
                if len(outcomes) != len(batch):
                    raise RuntimeError("group write returned the wrong number of outcomes")
            except BaseException as exc:  # every item of the batch shares the failure
                outcomes = [exc] * len(batch)
                raise
            finally:
                with self._cv:
                    for s, outcome in zip(batch, outcomes, strict=True):
                        s.outcome, s.done = outcome, True
                    self._leading -= 1
                    self._cv.notify_all()
        if isinstance(slot.outcome, BaseException):
            raise slot.outcome
        result: R = slot.outcome
        return result


_groups: weakref.WeakKeyDictionary[Engine, dict[str, GroupCommit[Any, Any]]] = weakref.WeakKeyDictionary()


def group_commit(engine: Engine, name: str) -> GroupCommit[Any, Any]:
    """The process's group-commit queue ``name`` for ``engine`` (one per kind of write).

    One batch at a time on both stores (the default ``writers``): SQLite has a single writer, and on
    PostgreSQL every batch of new cases updates the same few coarse map cells (``case_map_cells``, kept by
    triggers), so concurrent batches only queued on those rows' locks until the other committed, and could
    deadlock: 4 writers gave 25-32 reports/s where 1 gives 216 (bench, 100 clients).
    """
    with _write_locks_guard:
        groups = _groups.setdefault(engine, {})
        group = groups.get(name)
        if group is None:
            group = groups[name] = GroupCommit()
        return group


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

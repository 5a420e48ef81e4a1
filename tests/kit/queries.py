"""Counting the SQL statements a request runs, so an N+1 regression fails a test (NetBox pins them too).

``count_queries(engine)`` listens to ``before_cursor_execute`` on that engine: every statement sent to
the database counts, whichever session or connection sent it. The app under test has its own engine
(``app.state.engine``), not the test's ``engine`` fixture, so count on :func:`app_engine`::

    with count_queries(app_engine(client)) as q:
        client.get("/api/v1/agencies")
    assert q.count == 1, q
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event, text


@dataclass
class QueryLog:
    """The statements run inside one ``count_queries`` block; ``str()`` lists them for failure messages."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def __str__(self) -> str:
        lines = [" ".join(s.split())[:300] for s in self.statements]
        return f"{self.count} queries:\n" + "\n".join(f"  {i}. {s}" for i, s in enumerate(lines, 1))


@contextmanager
def count_queries(engine: Engine) -> Iterator[QueryLog]:
    """Record every statement ``engine`` sends while the block runs."""
    log = QueryLog()

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)


def settle(engine: Engine, *, quiet: float = 0.03, timeout: float = 5.0) -> None:
    """Wait until the app's background work is done: no event left in the outbox and no statement for
    ``quiet`` seconds. The outbox relay and the bus consumers run after a commit, on the same engine, so
    without this a count could include their statements (a flaky count, not the request's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.scalar(text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL"))
        with count_queries(engine) as log:
            time.sleep(quiet)
        if not pending and not log.count:
            return


def app_engine(client: TestClient) -> Engine:
    """The engine of the app the client talks to (the one its requests use)."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine


def get_counted(
    client: TestClient, url: str, headers: dict[str, str] | None = None, *, status: int = 200
) -> tuple[Response, QueryLog]:
    """GET ``url`` once the app is idle (:func:`settle`) and return the response with the statements it
    ran; the status must be ``status``."""
    engine = app_engine(client)
    settle(engine)
    with count_queries(engine) as log:
        response = client.get(url, headers=headers or {})
    assert response.status_code == status, response.text
    return response, log


@pytest.fixture
def app_queries(client: TestClient) -> Callable[[], AbstractContextManager[QueryLog]]:
    """``with app_queries() as q: client.get(...)``: count what the app under test runs in the block."""
    return lambda: count_queries(app_engine(client))

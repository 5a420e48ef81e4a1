"""Counting the SQL statements a request runs, so an N+1 regression fails a test (NetBox pins them too).

``count_queries(engine)`` listens to ``before_cursor_execute`` on that engine: every statement sent to
the database counts, whichever session or connection sent it. The app under test has its own engine
(``app.state.engine``), not the test's ``engine`` fixture, so count on :func:`app_engine`::

    with count_queries(app_engine(client)) as q:
        client.get("/api/v1/agencies")
    assert q.count == 1, q
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, event


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


_counting: ContextVar[QueryLog | None] = ContextVar("cityops_test_counting", default=None)


@contextmanager
def count_queries(engine: Engine) -> Iterator[QueryLog]:
    """Record the statements ``engine`` sends for the block: its own and those of the requests it makes.

    The test client's requests run in a copy of the block's context (anyio copies it into the request
    task and its worker threads), so a :class:`~contextvars.ContextVar` tells them apart from the app's
    background work on the same engine (the outbox relay, bus consumers, periodic tasks), which started
    earlier in contexts of their own and would otherwise make a count flaky.
    """
    log = QueryLog()
    token = _counting.set(log)

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _counting.get() is log:
            log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before)
        _counting.reset(token)


def app_engine(client: TestClient) -> Engine:
    """The engine of the app the client talks to (the one its requests use)."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    assert isinstance(engine, Engine)
    return engine


def get_counted(
    client: TestClient, url: str, headers: dict[str, str] | None = None, *, status: int = 200
) -> tuple[Response, QueryLog]:
    """GET ``url`` and return the response with the statements it ran; the status must be ``status``."""
    with count_queries(app_engine(client)) as log:
        response = client.get(url, headers=headers or {})
    assert response.status_code == status, response.text
    return response, log


@pytest.fixture
def app_queries(client: TestClient) -> Callable[[], AbstractContextManager[QueryLog]]:
    """``with app_queries() as q: client.get(...)``: count what the app under test runs in the block."""
    return lambda: count_queries(app_engine(client))

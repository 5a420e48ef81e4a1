"""Offset pagination of the native API: the ``limit``/``offset`` query parameters and one page of a query.

A route takes ``page: Annotated[Page, Depends(page_params(default_limit))]``: the two parameters keep their
names, bounds and documentation in every list (``limit`` 1 … ``max_limit``, ``offset`` ≥ 0), and a bad
value is the usual 422. :meth:`Page.of` applies the page to a select; :func:`total` counts its rows.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameters' annotations at run time, and
# those of ``params`` name ``max_limit``, a variable of the enclosing call that a string could not resolve.
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

MAX_LIMIT = 500

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class Page:
    """Which rows a list returns: ``limit`` rows after skipping ``offset``."""

    limit: int
    offset: int

    def of(self, stmt: S) -> S:
        """``stmt`` limited to this page (order it first, or pages overlap)."""
        return stmt.limit(self.limit).offset(self.offset)


def page_params(default_limit: int, max_limit: int = MAX_LIMIT) -> Callable[..., Page]:
    """The FastAPI dependency reading ``limit`` (default ``default_limit``) and ``offset`` (default 0)."""

    def params(
        limit: Annotated[int, Query(ge=1, le=max_limit)] = default_limit,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> Page:
        return Page(limit=limit, offset=offset)

    return params


def total(session: Session, stmt: Select[Any]) -> int:
    """How many rows ``stmt`` returns over all pages."""
    return session.scalar(select(func.count()).select_from(stmt.subquery())) or 0

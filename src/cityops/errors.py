"""The native API error format and the per-API-family formatter registry.

Native: ``{"error": {"code", "message", "details"}}``. Open311 and SensorThings register their own
formatters for their path prefixes (STYLE.md: one error type per API family, shaped as its standard wants).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("cityops.errors")

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "service_unavailable",
}
# Seconds a client is told to wait when the database is saturated (a busy writer, an exhausted pool).
RETRY_AFTER_BUSY = 1
# PostgreSQL SQLSTATEs meaning "nothing was done, try again": serialization failure, deadlock, lock not
# available, statement/lock timeout (query_canceled), too many connections, server starting or shutting down.
_PG_RETRYABLE = frozenset({"40001", "40P01", "55P03"})
_PG_UNAVAILABLE = _PG_RETRYABLE | frozenset({"57014", "53300", "57P01", "57P02", "57P03"})


class ApiError(Exception):
    """An error the client caused (or must be told about); rendered in the API family's format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _STATUS_CODES.get(status, "error")
        self.details = details
        self.headers = headers


class NotFound(ApiError):
    def __init__(self, message: str = "Not found", **kw: Any) -> None:
        super().__init__(404, message, **kw)


class Forbidden(ApiError):
    def __init__(self, message: str = "Forbidden", **kw: Any) -> None:
        super().__init__(403, message, **kw)


class Unauthorized(ApiError):
    def __init__(self, message: str = "Authentication required", **kw: Any) -> None:
        super().__init__(401, message, **kw)


class Conflict(ApiError):
    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(409, message, **kw)


class Invalid(ApiError):
    def __init__(self, message: str, **kw: Any) -> None:
        super().__init__(422, message, **kw)


class ServiceUnavailable(ApiError):
    """The server is overloaded; nothing was stored and the client may retry after ``retry_after`` s."""

    def __init__(
        self, message: str = "The server is busy; try again shortly", *, retry_after: int = 1
    ) -> None:
        super().__init__(
            503,
            message,
            code="busy",
            details={"retry_after": retry_after},
            headers={"Retry-After": str(retry_after)},
        )


def is_busy_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a database contention error after which the transaction was rolled back
    whole and may simply be run again: SQLite ``database is locked``/busy, PostgreSQL serialization
    failure, deadlock or lock not available."""
    # SQLAlchemy wraps the driver's error in ``orig``; code writing through the raw DBAPI cursor (bulk
    # ingest) raises the driver's error itself
    orig = exc if isinstance(exc, sqlite3.OperationalError) else getattr(exc, "orig", None)
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate) in _PG_RETRYABLE
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig).lower()
        return "locked" in text or "busy" in text
    return False


def overload_error(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 for a database error that means "saturated or briefly unavailable", else ``None``.

    Covers :func:`is_busy_conflict`, SQLAlchemy's pool timeout (every connection in use for longer than
    the pool timeout), PostgreSQL statement timeouts and connection limits, and a connection that
    could not be made. Anything else (a schema or programming error) stays a server error.
    """
    if isinstance(exc, sa_exc.TimeoutError):
        return ServiceUnavailable()
    if isinstance(exc, sqlite3.OperationalError):
        return ServiceUnavailable() if is_busy_conflict(exc) else None
    if not isinstance(exc, sa_exc.OperationalError):
        return None
    if is_busy_conflict(exc):
        return ServiceUnavailable()
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:
        return ServiceUnavailable() if str(sqlstate) in _PG_UNAVAILABLE or str(sqlstate)[:2] == "08" else None
    if exc.connection_invalidated or (
        not isinstance(orig, sqlite3.Error) and type(orig).__module__.startswith("psycopg")
    ):
        # a psycopg OperationalError without SQLSTATE: the server could not be reached
        return ServiceUnavailable()
    return None


Formatter = Callable[[Request, ApiError], Response]


def native_error_response(request: Request, err: ApiError) -> Response:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.details is not None:
        body["details"] = err.details
    return Response(
        orjson.dumps({"error": body}, default=str),
        status_code=err.status,
        media_type="application/json",
        headers=err.headers,
    )


_formatters: list[tuple[str, Formatter]] = []


def register_formatter(path_prefix: str, formatter: Formatter) -> None:
    """Let an API family (``/open311``, ``/sta``) render errors under its prefix in its own shape."""
    _formatters.append((path_prefix, formatter))
    _formatters.sort(key=lambda item: len(item[0]), reverse=True)


def _render(request: Request, err: ApiError) -> Response:
    path = request.url.path
    for prefix, formatter in _formatters:
        if path.startswith(prefix):
            response = formatter(request, err)
            # a family's formatter shapes the body; headers such as Retry-After must survive it
            for name, value in (err.headers or {}).items():
                if name not in response.headers:
                    response.headers[name] = value
            return response
    return native_error_response(request, err)


def error_response(request: Request, err: ApiError) -> Response:
    """Render ``err`` in the format of the request's API family; for middleware, which runs outside the
    exception handlers (body-size limits, rate limits)."""
    return _render(request, err)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for e in exc.errors():
        out.append({"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg"), "type": e.get("type")})
    return out


def install(app: FastAPI) -> None:
    """Route every error through :func:`_render`."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _render(request, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err = ApiError(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        return _render(request, err)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        err = ApiError(422, "The request is not valid", details=_validation_details(exc))
        return _render(request, err)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        err = overload_error(exc)
        if err is None:
            raise exc  # a real server error: the server-error middleware logs it and answers 500
        log.warning("database saturated on %s %s: %s", request.method, request.url.path, exc)
        return _render(request, err)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(sa_exc.OperationalError, on_database_error)
    app.add_exception_handler(sa_exc.TimeoutError, on_database_error)
    app.add_exception_handler(sqlite3.OperationalError, on_database_error)  # raw cursor (bulk ingest)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)

"""Request-body size limits, per route, answered with 413 in the API family's error format.

A declared ``Content-Length`` over the limit is refused before any byte of the body is read. A body sent
without one (chunked) is read up to the limit and refused as soon as it goes over; below the limit it is
handed on unchanged. Limits: ``security_json_max_bytes`` by default, ``security_bulk_max_bytes`` for the
SensorThings ``CreateObservations`` dataArray, and the media limits (plus form overhead) for uploads.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.exc import DataError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops.errors import ApiError, error_response
from cityops.settings import Settings

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and part headers around the uploaded file
UPLOAD_PATHS = ("/api/v1/reports/media",)
BULK_PATHS = ("/sta/v1.1/CreateObservations",)


@dataclass(frozen=True)
class BodyLimits:
    default: int
    bulk: int
    upload: int

    @classmethod
    def from_settings(cls, settings: Settings) -> BodyLimits:
        upload = max(settings.media_max_photo_bytes, settings.media_max_video_bytes) + FORM_OVERHEAD
        return cls(
            default=settings.security_json_max_bytes, bulk=settings.security_bulk_max_bytes, upload=upload
        )

    def for_path(self, path: str) -> int:
        """The largest body accepted on ``path``."""
        if path in UPLOAD_PATHS:
            return self.upload
        if path in BULK_PATHS:
            return self.bulk
        return self.default


def too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"The request body is larger than {limit} bytes",
        code="payload_too_large",
        details={"max_bytes": limit},
    )


class _TooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing :class:`BodyLimits`."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope.get("path", ""))
        declared = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(scope, receive, send, ApiError(400, "Content-Length is not a number"))
                    return
                break
        if declared is not None:
            if declared > limit:
                await self._refuse(scope, receive, send, too_large(limit))
                return
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read it here, up to the limit, then replay it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see the same
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, too_large(limit))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, err: ApiError) -> None:
        response = error_response(Request(scope), err)
        response.headers["connection"] = "close"  # do not read the rest of a huge body
        await response(scope, receive, send)


def out_of_range(request: Request, exc: Exception) -> Response:
    """A number no column can hold (an id of 30 digits) or a value the database refuses as data: the
    client's mistake, so a 422 in the API family's format instead of a 500. The session is rolled back
    by its dependency; nothing was written."""
    err = ApiError(
        422, "A value in the request is out of range or not valid for its field", code="out_of_range"
    )
    return error_response(request, err)


def install_out_of_range_handler(app: FastAPI) -> None:
    app.add_exception_handler(OverflowError, out_of_range)
    app.add_exception_handler(DataError, out_of_range)

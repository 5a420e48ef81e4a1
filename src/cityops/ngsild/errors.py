"""ProblemDetails errors (RFC 7807, application/problem+json) with the ETSI NGSI-LD type URIs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

BASE = "https://uri.etsi.org/ngsi-ld/errors/"


class NgsiError(Exception):
    """An NGSI-LD error: ``kind`` is the ETSI error type (``BadRequestData``, ``ResourceNotFound``, ...)."""

    status = 400
    kind = "BadRequestData"
    title = "Bad request data"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {
            "type": BASE + self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extra,
        }


class BadRequestData(NgsiError):
    pass


class InvalidRequest(NgsiError):
    kind = "InvalidRequest"
    title = "Invalid request"


class ResourceNotFound(NgsiError):
    status = 404
    kind = "ResourceNotFound"
    title = "Resource not found"


class AlreadyExists(NgsiError):
    status = 409
    kind = "AlreadyExists"
    title = "Already exists"


class OperationNotSupported(NgsiError):
    status = 422
    kind = "OperationNotSupported"
    title = "Operation not supported"


class LdContextNotAvailable(NgsiError):
    status = 503
    kind = "LdContextNotAvailable"
    title = "@context not available"


class NotAcceptable(NgsiError):
    status = 406
    kind = "NotAcceptable"
    title = "Not acceptable"


class UnsupportedMediaType(NgsiError):
    status = 415
    kind = "UnsupportedMediaType"
    title = "Unsupported media type"


class Unauthorized(NgsiError):
    status = 401
    kind = "NotAuthorized"  # not an ETSI-registered type before v1.9; kept in the same namespace
    title = "Sign in to do this"


class Forbidden(NgsiError):
    status = 403
    kind = "NotAuthorized"
    title = "Not allowed"


def problem(exc: NgsiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, media_type="application/problem+json")


async def handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NgsiError)
    return problem(exc)

"""The OpenAPI document tells the truth about errors.

Every operation can answer errors that its route does not see: a bad or expired token (401), a role
without the permission (403), validation (422), the body-size and content-type guards (413, 415), the
per-IP limits (429) and a saturated database (503). Declaring them route by route would repeat the same
lines a hundred times and miss the next route, so :func:`install` adds them to the generated document
once, each in its API family's error shape (STYLE.md: native ``{"error": {"code", "message", "details"}}``
for ``/api/v1``, OData's for SensorThings, ``[{code, description}]`` for Open311; see :data:`FAMILIES`).

The rule is by what an operation takes, so it over-declares rather than misses: every operation may answer
400, 401, 403, 404, 429 and 503; one with parameters or a body also 422; one that changes state also 409;
one with a body also 413 and 415. A route's own declarations (a 404 with a description, extra content
types) are kept. Routes use :func:`error_responses` for statuses they document themselves.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

NATIVE_PREFIX = "/api/v1/"
ERROR_SCHEMA = "NativeError"
DESCRIPTIONS = {
    400: "Bad request: the input is not acceptable",
    401: "Not signed in, or the credentials are invalid or expired",
    403: "Signed in, but not allowed to do this",
    404: "No such resource (or one the caller may not see)",
    405: "This method does not apply to this resource",
    409: "Conflict with the current state (a duplicate, a stale version, a used key)",
    413: "The request body is larger than this route accepts",
    415: "The request body's content type is not accepted here",
    422: "The request does not validate (fields named in details)",
    429: "Too many requests from this address or account (see Retry-After)",
    503: "The database is saturated; retry after Retry-After seconds",
}
ALWAYS = (400, 401, 403, 404, 429, 503)
WRITES = {"post", "put", "patch", "delete"}
METHODS = {"get", *WRITES}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The native error shape (cityops.errors): one per API family, this one for /api/v1."""

    error: ErrorBody


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for a route documenting error statuses itself, with the native schema."""
    return {code: {"model": ErrorOut, "description": DESCRIPTIONS.get(code, "Error")} for code in codes}


class Feature(BaseModel):
    """A GeoJSON (RFC 7946) feature; its properties are the route's own."""

    model_config = ConfigDict(extra="allow")
    type: Literal["Feature"]
    geometry: dict[str, Any] | None
    properties: dict[str, Any] | None
    id: str | int | None = None


class FeatureCollection(BaseModel):
    """A GeoJSON (RFC 7946) feature collection, served as ``application/geo+json``."""

    model_config = ConfigDict(extra="allow")
    type: Literal["FeatureCollection"]
    features: list[Feature]


GEOJSON = "application/geo+json"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def success_types(*media: str, status: int = 200, json: bool = True) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry declaring what a route's success may be besides (or instead of) JSON."""
    content: dict[str, Any] = {"application/json": {}} if json else {}
    content.update({m: {} for m in media})
    return {status: {"content": content}}


class GeoJSONResponse(JSONResponse):
    """A GeoJSON answer: ``response_class=`` of a ``.geojson`` route, so its document names the type."""

    media_type = GEOJSON


GEOJSON_OK: dict[int | str, dict[str, Any]] = {200: {"model": FeatureCollection}}
"""``responses=`` of a ``.geojson`` route (with ``response_class=GeoJSONResponse``): its schema."""


def statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses ``operation`` can answer, by what it takes (see the module docstring)."""
    out = list(ALWAYS)
    if operation.get("parameters") or "requestBody" in operation:
        out.append(422)
    if method in WRITES:
        out.append(409)
    if "requestBody" in operation:
        out += [413, 415]
    return sorted(out)


@dataclass(frozen=True)
class Family:
    """An API family's error shape in the document: its schema, and the content types its answers use."""

    prefix: str
    schema_name: str
    schema: dict[str, Any]
    error_types: tuple[str, ...] = ("application/json",)
    success_types: tuple[str, ...] = ()  # more content types a 2xx may have besides the route's own
    success_status: dict[str, tuple[int, ...]] = field(default_factory=dict)  # method -> more 2xx
    always: tuple[int, ...] = ALWAYS
    translate: dict[int, int] = field(default_factory=dict)  # statuses the family answers as another
    raw_bodies: bool = False  # routes read their body themselves: every write may answer 413 and 415


_NATIVE_SCHEMA = {
    "title": ERROR_SCHEMA,
    "description": ErrorOut.__doc__,
    "type": "object",
    "required": ["error"],
    "properties": {"error": ErrorBody.model_json_schema()},
    "additionalProperties": False,
}
FAMILIES = [
    Family(NATIVE_PREFIX, ERROR_SCHEMA, _NATIVE_SCHEMA),
    # OGC 18-088 / OData: {"error": {"code", "message"}}; results may be GeoJSON, CSV or a $value's text.
    Family(
        "/sta/v1.1",
        "SensorThingsError",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        },
        success_types=("application/geo+json", "text/csv", "text/plain", "multipart/mixed"),
        success_status={"post": (201,)},
        always=(*ALWAYS, 405),
        raw_bodies=True,
    ),
    # Open311 GeoReport v2: [{code, description}], in JSON or XML like the answer it replaces; it answers
    # what the native API calls 401/409/413/415/422 as 403 or 400.
    Family(
        "/open311/v2",
        "Open311Errors",
        {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["code", "description"],
                "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
            },
        },
        error_types=("application/json", "application/xml"),
        success_types=("application/xml",),
        success_status={"post": (201,)},
        translate={401: 403, 409: 400, 413: 400, 415: 400, 422: 400},
    ),
    # The probes, security.txt and other root routes answer errors in the native shape.
    Family("/", ERROR_SCHEMA, _NATIVE_SCHEMA, always=(404, 429, 503)),
]


def _family(path: str) -> Family:
    return next(f for f in FAMILIES if path.startswith(f.prefix))


def declare_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add each family's error statuses to every operation of an OpenAPI document (in place)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for family in FAMILIES:
        components[family.schema_name] = family.schema
    for path, operations in schema.get("paths", {}).items():
        family = _family(path)
        ref = {"$ref": f"#/components/schemas/{family.schema_name}"}
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            wanted = set(family.always)
            if family.prefix != "/":
                wanted.update(statuses(method, operation))
            if family.raw_bodies and method in WRITES:
                wanted.update((409, 413, 415))
            for status in sorted({family.translate.get(s, s) for s in wanted}):
                entry = responses.setdefault(str(status), {})
                entry.setdefault("description", DESCRIPTIONS.get(status, "Error"))
                content = entry.setdefault("content", {})
                for media in family.error_types:
                    if status == 422 or media not in content:
                        content[media] = {"schema": ref}  # FastAPI's own 422 is not our shape
            if status_422_unused(family, operation, responses):
                responses.pop("422")
            ok = [code for code in responses if code.startswith("2")]
            for extra in family.success_status.get(method, ()):
                if str(extra) not in responses and ok:
                    responses[str(extra)] = copy.deepcopy(responses[ok[0]])
            for code, entry in responses.items():
                if code.startswith("2") and family.success_types:
                    content = entry.setdefault("content", {})
                    for media in family.success_types:
                        content.setdefault(media, {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and f"schemas/{unused}" not in str(schema.get("paths")):
            del components[unused]
    return schema


def status_422_unused(family: Family, operation: dict[str, Any], responses: dict[str, Any]) -> bool:
    """FastAPI declares 422 on a route with parameters; a family that never answers 422 (Open311) drops it."""
    return "422" in responses and family.translate.get(422, 422) != 422


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the native error responses (built once, then cached)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

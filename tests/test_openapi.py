"""The OpenAPI document declares each family's errors and the content types routes answer with
(cityops.openapi); tests/security/test_fuzz.py checks the answers against it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.openapi import GEOJSON, XLSX, statuses


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def _operations(doc: dict[str, Any], prefix: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in doc["paths"].items()
        if path.startswith(prefix)
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_native_operation_declares_its_errors_in_the_native_shape(document: dict[str, Any]) -> None:
    ops = _operations(document, "/api/v1/")
    assert len(ops) > 50
    for path, method, op in ops:
        for status in statuses(method, op):
            entry = op["responses"].get(str(status))
            assert entry is not None, (method, path, status)
            schema = entry["content"]["application/json"]["schema"]
            if status in {401, 403, 413, 415, 422, 429, 503}:
                # the shared schema, or a route's own declaration of the same shape
                name = schema["$ref"].rsplit("/", 1)[-1]
                assert list(document["components"]["schemas"][name]["properties"]) == ["error"], (
                    path,
                    status,
                )
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["NativeError"]["properties"]["error"]
    assert error["required"] == ["code", "message"]


def test_other_families_declare_their_own_shapes(document: dict[str, Any]) -> None:
    sta = {"$ref": "#/components/schemas/SensorThingsError"}
    for path, method, op in _operations(document, "/sta/v1.1"):
        assert op["responses"]["404"]["content"]["application/json"]["schema"] == sta, (method, path)
        if method in {"post", "patch", "put"}:
            assert {"400", "413", "415"} <= set(op["responses"]), (method, path)
    post = document["paths"]["/sta/v1.1/{path}"]["post"]["responses"]
    assert "201" in post
    open311 = {"$ref": "#/components/schemas/Open311Errors"}
    for path, method, op in _operations(document, "/open311/v2"):
        assert op["responses"]["400"]["content"]["application/xml"]["schema"] == open311, (method, path)
        assert "422" not in op["responses"]  # Open311 answers validation errors as 400
        assert "401" not in op["responses"]  # and authentication errors as 403


def test_downloads_declare_their_content_types(document: dict[str, Any]) -> None:
    def types(path: str) -> set[str]:
        return set(document["paths"][path]["get"]["responses"]["200"]["content"])

    assert types("/api/v1/reports/public.geojson") == {GEOJSON}
    assert types("/api/v1/areas.geojson") == {GEOJSON}
    assert {"text/csv", XLSX} <= types("/api/v1/reports/scorecards")


def test_the_document_is_built_once(app: FastAPI) -> None:
    assert app.openapi() is app.openapi()

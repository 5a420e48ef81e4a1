"""Input limits over HTTP, each refused with a clear 4xx in the API family's error format: request-body
size per route (JSON, dataArray, uploads; declared or chunked), uploaded files (type sniffing, size and
pixel caps, malformed images), and SensorThings query caps ($expand and $filter nesting, huge $top)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from cityops.app import create_app
from cityops.identity.models import Role, User
from cityops.sensing import sta_query
from cityops.settings import load_settings
from tests.conftest import Backend
from tests.media.samples import noisy_jpeg, png_bomb

JSON_MAX = 4096
BULK_MAX = 16384
PHOTO_MAX = 40_000
UPLOAD_MAX = PHOTO_MAX + 64 * 1024  # the media cap plus the multipart overhead
STA = "/sta/v1.1"


@pytest.fixture
def small(backend: Backend, tmp_path: Path) -> Iterator[TestClient]:
    """An app with small limits, so the tests send kilobytes, not megabytes."""
    settings = load_settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=backend.url,
        security_json_max_bytes=JSON_MAX,
        security_bulk_max_bytes=BULK_MAX,
        media_max_photo_bytes=PHOTO_MAX,
        media_max_video_bytes=PHOTO_MAX,
        media_max_pixels=100_000,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _native(res: Any, status: int, code: str) -> dict[str, Any]:
    assert res.status_code == status, res.text
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code
    assert err["message"]
    return err


def _chunks(total: int, size: int = 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


# --- body size ---------------------------------------------------------------------------------------


def test_oversized_json_is_413_in_native_format(small: TestClient) -> None:
    body = b'{"category": "lighting", "description": "' + b"x" * JSON_MAX + b'"}'
    err = _native(
        small.post("/api/v1/reports", content=body, headers={"content-type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert err["details"] == {"max_bytes": JSON_MAX}
    # Just under the limit the request reaches the endpoint (a validation error, not a size error).
    res = small.post(
        "/api/v1/reports", content=b'{"category": 1}', headers={"content-type": "application/json"}
    )
    assert res.status_code == 422


def test_chunked_body_without_length_is_counted(small: TestClient) -> None:
    res = small.post(
        "/api/v1/auth/login", content=_chunks(JSON_MAX + 1), headers={"content-type": "application/json"}
    )
    _native(res, 413, "payload_too_large")
    # A small chunked body is handed on intact.
    res = small.post(
        "/api/v1/auth/login",
        content=iter([b'{"username": "nobody", ', b'"password": "wrong password"}']),
        headers={"content-type": "application/json"},
    )
    assert res.status_code == 401


def test_bad_content_length_is_400(small: TestClient) -> None:
    res = small.post(
        "/api/v1/reports", content=b"{}", headers={"content-type": "application/json", "content-length": "x"}
    )
    assert res.status_code == 400


def test_oversized_body_on_sta_uses_the_odata_shape(small: TestClient) -> None:
    res = small.post(
        f"{STA}/Things", content=b" " * (JSON_MAX + 1), headers={"content-type": "application/json"}
    )
    assert res.status_code == 413
    assert set(res.json()["error"]) == {"code", "message"}


def test_data_array_has_its_own_larger_limit(small: TestClient) -> None:
    between = b"[" + b" " * (JSON_MAX * 2) + b"]"
    res = small.post(
        f"{STA}/CreateObservations", content=between, headers={"content-type": "application/json"}
    )
    assert res.status_code < 500
    assert res.status_code != 413  # reached the endpoint: not refused for its size
    huge = b"[" + b" " * BULK_MAX + b"]"
    res = small.post(f"{STA}/CreateObservations", content=huge, headers={"content-type": "application/json"})
    assert res.status_code == 413
    assert res.json()["error"]["code"] == "payload_too_large"


def test_oversized_open311_form_is_an_open311_error(small: TestClient) -> None:
    res = small.post("/open311/v2/requests.json", data={"description": "x" * JSON_MAX})
    assert res.status_code == 400
    body = res.json()
    assert isinstance(body, list)
    assert body[0]["code"] == 400
    assert "larger than" in body[0]["description"]


# --- uploads ---------------------------------------------------------------------------------------


def _upload(client: TestClient, data: bytes, name: str = "photo.jpg", ctype: str = "image/jpeg") -> Any:
    return client.post("/api/v1/reports/media", files={"file": (name, data, ctype)})


def _jpeg(size: tuple[int, int]) -> bytes:
    out = BytesIO()
    Image.new("RGB", size, (10, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def test_upload_above_the_json_limit_but_within_the_photo_cap_is_stored(small: TestClient) -> None:
    photo = noisy_jpeg((100, 100))
    assert JSON_MAX < len(photo) < PHOTO_MAX
    res = _upload(small, photo)
    assert res.status_code == 201, res.text
    assert res.json()["content_type"] == "image/jpeg"


def test_upload_over_the_photo_cap_is_413(small: TestClient) -> None:
    big = noisy_jpeg((300, 200))
    assert PHOTO_MAX < len(big) < UPLOAD_MAX  # refused by the media store
    _native(_upload(small, big), 413, "payload_too_large")
    huge = b"\xff\xd8\xff" + b"\x00" * UPLOAD_MAX  # refused by the body limit before it is read
    _native(_upload(small, huge), 413, "payload_too_large")


def test_content_is_sniffed_not_trusted(small: TestClient) -> None:
    html = b"<html><script>alert(document.cookie)</script></html>"
    err = _native(_upload(small, html, "photo.jpg", "image/jpeg"), 415, "unsupported_media_type")
    assert "declared as image/jpeg" in err["message"]
    _native(
        _upload(small, b"MZ\x90\x00" + b"\x00" * 200, "photo.png", "image/png"), 415, "unsupported_media_type"
    )
    # A real JPEG declared as something else is stored as what it is.
    res = _upload(small, _jpeg((40, 30)), "notes.txt", "text/plain")
    assert res.status_code == 201
    assert res.json()["content_type"] == "image/jpeg"


def test_pixel_cap_and_decompression_bomb(small: TestClient) -> None:
    err = _native(_upload(small, _jpeg((400, 300))), 413, "image_too_large")  # 120 000 px > 100 000
    assert err["details"]["max_pixels"] == 100_000
    _native(_upload(small, png_bomb(), "bomb.png", "image/png"), 413, "image_too_large")


def test_malformed_images_are_422(small: TestClient) -> None:
    good = _jpeg((120, 90))
    _native(_upload(small, good[: len(good) // 2]), 422, "malformed_media")  # truncated
    garbage = good[:4] + bytes(range(256)) * 4  # a JPEG signature and nothing valid after it
    _native(_upload(small, garbage), 422, "malformed_media")
    _native(_upload(small, b""), 422, "malformed_media")


# --- SensorThings query caps ------------------------------------------------------------------------


def _odata_400(client: TestClient, query: str, fragment: str) -> None:
    res = client.get(f"{STA}/Things", params={k: v for k, v in [query.split("=", 1)]})
    assert res.status_code == 400, res.text
    err = res.json()["error"]
    assert set(err) == {"code", "message"}
    assert fragment in err["message"]


def test_deep_expand_is_refused(client: TestClient) -> None:
    _odata_400(client, "$expand=" + "/".join(["Datastreams", "Thing"] * 6), "nests deeper")
    nested = "Thing"
    for _ in range(6):
        nested = f"Datastreams($expand={nested})"
        nested = f"Thing($expand={nested})"
    _odata_400(client, "$expand=" + nested.removeprefix("Thing($expand=").removesuffix(")"), "nests deeper")


def test_deep_or_long_filter_is_refused(client: TestClient) -> None:
    _odata_400(client, "$filter=" + "(" * 200 + "id eq 1" + ")" * 200, "nests deeper")
    _odata_400(client, "$filter=" + " or ".join(["id eq 1"] * 400), "operators")
    _odata_400(client, "$top=-1", "$top")
    _odata_400(client, "$top=ten", "$top")


def test_huge_top_is_capped_with_a_next_link(
    client: TestClient,
    admin: User,
    auth: Callable[[User], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(3):
        res = client.post(f"{STA}/Things", json={"name": f"t{i}", "description": "d"}, headers=auth(admin))
        assert res.status_code == 201, res.text
    monkeypatch.setattr(sta_query, "MAX_TOP", 2)
    body = client.get(f"{STA}/Things", params={"$top": "9" * 30}).json()
    assert len(body["value"]) == 2
    assert "@iot.nextLink" in body


def test_admin_role_is_what_creates_things(
    client: TestClient, make_user: Callable[..., User], auth: Callable[[User], dict[str, str]]
) -> None:
    citizen = make_user(Role.CITIZEN)
    res = client.post(f"{STA}/Things", json={"name": "x", "description": "d"}, headers=auth(citizen))
    assert res.status_code == 403


def test_numbers_out_of_any_column_range_are_422(
    client: TestClient, admin: User, auth: Callable[[User], dict[str, str]]
) -> None:
    huge = "9" * 25  # found by the fuzz: 500 (OverflowError on SQLite, "integer out of range" on PostgreSQL)
    res = client.patch(f"/api/v1/alert-rules/{huge}", json={}, headers=auth(admin))
    _native(res, 422, "out_of_range")
    _native(client.get("/api/v1/areas", params={"parent_id": huge}), 422, "out_of_range")
    _native(client.get("/api/v1/areas", params={"offset": huge}), 422, "out_of_range")

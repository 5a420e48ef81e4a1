"""Serving media: only reviewed pictures are public by default; the access policy is the caller's."""

from __future__ import annotations

import hashlib

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cityops.media.api import Variant, install_access_policy
from cityops.media.models import MediaItem
from cityops.media.store import media_path, redact, set_review_state, store_upload
from cityops.settings import Settings
from tests.media.samples import noisy_jpeg, tiny_mp4


def test_pending_and_hidden_media_are_not_public(
    client: TestClient, settings: Settings, session: Session
) -> None:
    item = store_upload(settings, session, noisy_jpeg(), None, None).item
    session.commit()
    for url in (
        f"/api/v1/media/{item.id}",
        f"/api/v1/media/{item.id}/thumbnail",
        f"/api/v1/media/sha/{item.sha256}",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    set_review_state(session, item, "hidden")
    session.commit()
    assert client.get(f"/api/v1/media/{item.id}").status_code == 404


def test_approved_photo_is_served_with_its_type(
    client: TestClient, settings: Settings, session: Session
) -> None:
    item = store_upload(settings, session, noisy_jpeg(), None, None).item
    set_review_state(session, item, "approved")
    session.commit()
    response = client.get(f"/api/v1/media/{item.id}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"] == f'"{item.sha256}"'
    assert hashlib.sha256(response.content).hexdigest() == item.sha256
    thumb = client.get(f"/api/v1/media/{item.id}/thumbnail")
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert hashlib.sha256(thumb.content).hexdigest() == item.thumbnail_sha256
    assert client.get(f"/api/v1/media/sha/{item.sha256}").content == response.content
    # The original variant is for staff only, even when approved.
    assert client.get(f"/api/v1/media/{item.id}/original").status_code == 404
    assert client.get("/api/v1/media/999999").status_code == 404
    assert client.get("/api/v1/media/sha/not-a-hash").status_code == 404
    assert client.get("/api/v1/media/sha/" + "0" * 64).status_code == 404


def test_redacted_photo_serves_only_the_blurred_copy(
    client: TestClient, settings: Settings, session: Session
) -> None:
    item = store_upload(settings, session, noisy_jpeg(), None, None).item
    redact(settings, session, item, [(0, 0, 50, 50)])
    session.commit()
    display = client.get(f"/api/v1/media/{item.id}")
    assert display.status_code == 200
    assert hashlib.sha256(display.content).hexdigest() == item.redacted_sha256
    thumb = client.get(f"/api/v1/media/{item.id}/thumbnail")
    assert hashlib.sha256(thumb.content).hexdigest() == item.redacted_thumbnail_sha256
    # The unredacted file and thumbnail are not reachable by id or by hash.
    assert client.get(f"/api/v1/media/sha/{item.sha256}").status_code == 404
    assert client.get(f"/api/v1/media/sha/{item.thumbnail_sha256}").status_code == 404
    assert client.get(f"/api/v1/media/{item.id}/original/thumbnail").status_code == 404
    assert client.get(f"/api/v1/media/sha/{item.redacted_sha256}").status_code == 200


def test_staff_policy_can_see_originals(
    app: FastAPI, client: TestClient, settings: Settings, session: Session
) -> None:
    seen: list[tuple[int, str]] = []

    def staff(request: Request, _session: Session, media: MediaItem, variant: Variant) -> bool:
        seen.append((media.id, variant))
        return request.headers.get("x-test-staff") == "yes"

    install_access_policy(app, staff)
    item = store_upload(settings, session, noisy_jpeg(), None, None).item
    video = store_upload(settings, session, tiny_mp4(), None, None).item
    session.commit()
    original = client.get(f"/api/v1/media/{item.id}/original", headers={"x-test-staff": "yes"})
    assert original.status_code == 200
    assert original.content == media_path(settings, item.sha256, "image/jpeg").read_bytes()
    assert client.get(f"/api/v1/media/{item.id}/original").status_code == 404
    assert seen[-1] == (item.id, "original")
    clip = client.get(f"/api/v1/media/{video.id}", headers={"x-test-staff": "yes"})
    assert clip.status_code == 200
    assert clip.headers["content-type"] == "video/mp4"
    # A video has no thumbnail.
    assert (
        client.get(f"/api/v1/media/{video.id}/thumbnail", headers={"x-test-staff": "yes"}).status_code == 404
    )

"""Serving stored media: ``GET /api/v1/media/{id}[/thumbnail|/original]`` and ``/api/v1/media/sha/{sha}``.

Who may see what is not decided here. Only staff-reviewed photos are public, and whether the caller is
staff handling the case is known to identity/reports, so the route asks an *access policy*: a callable
``(request, session, item, variant) -> bool`` stored on ``app.state.media_access`` with
:func:`install_access_policy`. Variants: ``display`` (the public picture: the redacted copy when there is
one), ``thumbnail`` (its thumbnail), ``original`` and ``original_thumbnail`` (unredacted, staff only).
The default policy, :func:`public_only`, allows ``display`` and ``thumbnail`` of ``approved`` and
``redacted`` media and nothing else. A refusal answers 404, so hidden media does not reveal it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cityops.deps import SessionDep
from cityops.errors import NotFound
from cityops.media.models import MediaItem
from cityops.media.store import PHOTO_TYPES, VIDEO_TYPES, media_path
from cityops.openapi import success_types

Variant = Literal["display", "thumbnail", "original", "original_thumbnail"]
MediaAccess = Callable[[Request, Session, MediaItem, Variant], bool]
PUBLIC_STATES = ("approved", "redacted")

router = APIRouter(prefix="/api/v1/media", tags=["media"])


def public_only(request: Request, session: Session, item: MediaItem, variant: Variant) -> bool:
    """The default policy: reviewed public pictures (the redacted copy when redacted), nothing else."""
    return variant in ("display", "thumbnail") and item.review_state in PUBLIC_STATES


def install_access_policy(app: FastAPI, policy: MediaAccess) -> None:
    """Replace the access policy of the media routes (identity/reports install one that knows staff)."""
    app.state.media_access = policy


def _policy(request: Request) -> MediaAccess:
    policy: MediaAccess = getattr(request.app.state, "media_access", public_only)
    return policy


def _file(item: MediaItem, variant: Variant) -> tuple[str, str] | None:
    """(sha256, content type) of a variant, or None when the item has no such file (video thumbnail)."""
    redacted = item.review_state == "redacted" and item.redacted_sha256 is not None
    if variant == "display":
        return (item.redacted_sha256 or item.sha256) if redacted else item.sha256, item.content_type
    if variant == "original":
        return item.sha256, item.content_type
    thumb = item.thumbnail_sha256
    if variant == "thumbnail" and redacted:
        thumb = item.redacted_thumbnail_sha256
    return (thumb, "image/jpeg") if thumb else None


def _serve(request: Request, session: Session, item: MediaItem | None, variant: Variant) -> FileResponse:
    if item is None or not _policy(request)(request, session, item, variant):
        raise NotFound("Media not found.")
    found = _file(item, variant)
    if found is None:
        raise NotFound("This media has no such variant.")
    sha, content_type = found
    settings = request.app.state.settings
    path = media_path(settings, sha, content_type)
    if not path.exists():
        raise NotFound("The media file is missing from the store.")
    return FileResponse(
        path,
        media_type=content_type,
        headers={
            "ETag": f'"{sha}"',
            # Review can withdraw a picture at any time: caches must ask again.
            "Cache-Control": "private, no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Content-Disposition": "inline",
        },
    )


# What the files are (cityops.media.store's accepted types), so the OpenAPI declares each content type.
FILES = success_types(*sorted(PHOTO_TYPES | VIDEO_TYPES), json=False)
THUMBNAIL = success_types("image/jpeg", json=False)


@router.get(
    "/sha/{sha256}",
    summary="A stored file by its SHA-256 (any variant)",
    response_class=FileResponse,
    responses=FILES,
)
def get_by_sha(sha256: str, request: Request, session: SessionDep) -> FileResponse:
    sha = sha256.lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise NotFound("Media not found.")
    item = session.scalar(
        select(MediaItem).where(
            or_(
                MediaItem.sha256 == sha,
                MediaItem.thumbnail_sha256 == sha,
                MediaItem.redacted_sha256 == sha,
                MediaItem.redacted_thumbnail_sha256 == sha,
            )
        )
    )
    if item is None:
        raise NotFound("Media not found.")
    variant: Variant
    if sha == item.redacted_sha256:
        variant = "display"
    elif sha == item.redacted_thumbnail_sha256:
        variant = "thumbnail"
    elif sha == item.thumbnail_sha256:
        variant = "original_thumbnail" if item.review_state == "redacted" else "thumbnail"
    else:
        variant = "original" if item.review_state == "redacted" else "display"
    return _serve(request, session, item, variant)


@router.get(
    "/{media_id}",
    summary="The public picture or video of a media item",
    response_class=FileResponse,
    responses=FILES,
)
def get_display(media_id: int, request: Request, session: SessionDep) -> FileResponse:
    return _serve(request, session, session.get(MediaItem, media_id), "display")


@router.get(
    "/{media_id}/thumbnail",
    summary="The thumbnail (JPEG) of a photo",
    response_class=FileResponse,
    responses=THUMBNAIL,
)
def get_thumbnail(media_id: int, request: Request, session: SessionDep) -> FileResponse:
    return _serve(request, session, session.get(MediaItem, media_id), "thumbnail")


@router.get(
    "/{media_id}/original",
    summary="The unredacted stored file (staff)",
    response_class=FileResponse,
    responses=FILES,
)
def get_original(media_id: int, request: Request, session: SessionDep) -> FileResponse:
    return _serve(request, session, session.get(MediaItem, media_id), "original")


@router.get(
    "/{media_id}/original/thumbnail",
    summary="The unredacted thumbnail (staff)",
    response_class=FileResponse,
    responses=THUMBNAIL,
)
def get_original_thumbnail(media_id: int, request: Request, session: SessionDep) -> FileResponse:
    return _serve(request, session, session.get(MediaItem, media_id), "original_thumbnail")

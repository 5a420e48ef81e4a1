"""Who uploaded a media item, and the proof a later request gives to use it.

Media ids are sequential, so naming one proves nothing (#21: an anonymous report borrowed a stranger's
photo and its EXIF position; an officer attached another agency's unreviewed photo to their own case and
so got to see and publish it). Every upload records its uploader (:class:`MediaUpload`):

- a signed-in principal (``user:<id>``) or an API key (``key:<id>``);
- anyone else: a random uploader token, set by the upload response as an ``HttpOnly`` cookie (browsers
  send it back with the report) and returned in the body as ``upload_token`` for other clients, which send
  it back in the ``X-Upload-Token`` header. Only its SHA-256 is stored (``anon:<sha256>``).

A request may use a media item only if one of its uploader keys (:func:`uploader_keys`) uploaded it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from cityops.clock import utcnow
from cityops.media.models import MediaUpload

COOKIE = "cityops_uploader"
HEADER = "X-Upload-Token"
COOKIE_PATH = "/api/v1"
COOKIE_MAX_AGE = 7 * 24 * 3600  # an offline report may be sent days after its photos were taken
_TOKEN_BYTES = 32


def anonymous_uploader(token: str) -> str:
    return "anon:" + hashlib.sha256(token.encode()).hexdigest()


def _presented_tokens(request: Request) -> list[str]:
    tokens = [request.headers.get(HEADER, ""), request.cookies.get(COOKIE, "")]
    # a token is ours only if it has the shape we issue: no cookie stuffing with long or empty values
    return [t for t in dict.fromkeys(tokens) if 20 <= len(t) <= 100]


def uploader_keys(request: Request, principal_label: str | None) -> tuple[str, ...]:
    """Every uploader this request can prove to be: its principal and the anonymous tokens it presents."""
    keys = [principal_label] if principal_label else []
    keys.extend(anonymous_uploader(t) for t in _presented_tokens(request))
    return tuple(keys)


def upload_identity(request: Request, principal_label: str | None) -> tuple[str, str | None]:
    """The uploader to record for an upload, and the anonymous token to hand back (None when signed in).

    An anonymous client keeps its token (cookie or header) across uploads, so one report's photos share it.
    """
    if principal_label:
        return principal_label, None
    presented = _presented_tokens(request)
    token = presented[0] if presented else secrets.token_urlsafe(_TOKEN_BYTES)
    return anonymous_uploader(token), token


def set_uploader_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE,
        path=COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="strict",
    )


def record_upload(
    session: Session, media_id: int, uploader: str, gps: tuple[float, float] | None
) -> MediaUpload:
    """Note that ``uploader`` uploaded ``media_id`` (once per pair; the latest position wins). Flushes."""
    row = session.scalar(
        select(MediaUpload).where(MediaUpload.media_id == media_id, MediaUpload.uploader == uploader).limit(1)
    )
    if row is None:
        row = MediaUpload(media_id=media_id, uploader=uploader, created_at=utcnow())
        session.add(row)
    row.exif_lat, row.exif_lon = gps if gps else (None, None)
    session.flush()
    return row


def uploaded_by(
    session: Session, media_ids: Sequence[int], uploaders: Iterable[str]
) -> dict[int, MediaUpload]:
    """The upload records proving that one of ``uploaders`` uploaded each of ``media_ids`` (missing: not)."""
    keys = list(uploaders)
    if not media_ids or not keys:
        return {}
    found: dict[int, MediaUpload] = {}
    rows = session.scalars(
        select(MediaUpload)
        .where(MediaUpload.media_id.in_(list(media_ids)), MediaUpload.uploader.in_(keys))
        .order_by(MediaUpload.id)
    )
    for row in rows:
        found.setdefault(row.media_id, row)
    return found

"""The content-addressed media store: validated, metadata-free photos and short videos on disk.

Files live at ``<settings.media_dir>/<sha256[:2]>/<sha256>.<ext>``; a :class:`MediaItem` row describes each.
Uploads are judged by their content, never by their file name or declared type:

* photos (JPEG, PNG, WebP, AVIF; HEIC only when the operator installs ``pillow-heif``, which is not a
  dependency because its wheels bundle GPL x265) are opened by Pillow restricted to the sniffed format,
  refused above ``media_max_pixels`` or when Pillow sees a decompression bomb, fully decoded (a truncated or
  damaged file is refused), rotated upright from the EXIF orientation, and **re-encoded** without any
  metadata (EXIF, XMP, ICC, text chunks). The EXIF GPS position is read first and returned, so the caller
  can use it when the citizen gave no location. A JPEG thumbnail is made.
* short videos (MP4, QuickTime MOV, WebM) are recognised by their magic bytes and their top-level
  structure is checked; they are not re-encoded (no ffmpeg), but their container metadata (position,
  device, XMP) is blanked in place by :mod:`cityops.media.video_metadata`. No thumbnail is made.

Errors are :class:`cityops.errors.ApiError`: 413 too large, 415 not a supported type, 422 malformed.
Files are written before the caller commits; a rolled-back upload leaves an unreferenced file behind
(harmless, the same content reuses it).
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from PIL import ExifTags, Image, ImageFilter, ImageOps, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError, Invalid, NotFound
from cityops.media import video_metadata
from cityops.media.models import REVIEW_STATES, MediaItem
from cityops.settings import Settings

try:  # optional: HEIC decoding (not a dependency, see the module docstring)
    from pillow_heif import register_heif_opener  # type: ignore[import-not-found, unused-ignore]

    register_heif_opener()
    _HEIC = True
except ImportError:  # pragma: no cover - depends on the installation
    _HEIC = False

PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp", "image/avif", "image/heic"}
VIDEO_TYPES = {"video/mp4", "video/quicktime", "video/webm"}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "video/webm": "webm",
}
_PIL_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/avif": "AVIF",
    "image/heic": "HEIF",
}
# Stored format for each accepted photo type (AVIF and HEIC become JPEG: every browser shows it).
_OUTPUT = {
    "image/jpeg": "image/jpeg",
    "image/png": "image/png",
    "image/webp": "image/webp",
    "image/avif": "image/jpeg",
    "image/heic": "image/jpeg",
}
_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_AVIF_BRANDS = {b"avif", b"avis"}
_IMAGE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error)


@dataclass(frozen=True)
class StoredMedia:
    """The result of :func:`store_upload`.

    ``gps`` is the (lat, lon) found in the upload's EXIF (None when absent or implausible); use it only as
    a location fallback. ``deduplicated`` is True when the same content was already stored (the existing
    item is returned and its review state is unchanged).
    """

    item: MediaItem
    gps: tuple[float, float] | None
    deduplicated: bool


@dataclass(frozen=True)
class _Processed:
    data: bytes
    content_type: str
    width: int | None
    height: int | None
    thumbnail: bytes | None
    gps: tuple[float, float] | None


# -- sniffing ------------------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The media type of ``data`` from its content (magic bytes), or None when not a supported type."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and len(data) >= 12:
        (size,) = struct.unpack(">I", data[:4])
        brands = {data[8:12]}
        end = min(size, len(data), 256)
        brands.update(data[i : i + 4] for i in range(16, end - 3, 4))
        if brands & _AVIF_BRANDS:
            return "image/avif"
        if brands & _HEIC_BRANDS:
            return "image/heic"
        if data[8:12] == b"qt  ":
            return "video/quicktime"
        return "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3") and b"matroska" not in data[:64]:
        return "video/webm"  # EBML; other Matroska types are not accepted, the header is checked later
    return None


def kind_of(content_type: str) -> str:
    return "video" if content_type in VIDEO_TYPES else "photo"


# -- validation and processing -------------------------------------------------------------------------


def _check_bmff(data: bytes) -> None:
    """Walk the top-level boxes of an MP4/MOV: sizes must add up and a ``moov`` box must be there."""
    pos, seen = 0, []
    while pos < len(data):
        if len(data) - pos < 8:
            raise Invalid("The video file is truncated.", code="malformed_media")
        size, box = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if len(data) - pos < 16:
                raise Invalid("The video file is truncated.", code="malformed_media")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data) or not all(32 <= c < 127 for c in box):
            raise Invalid("The video file is truncated or damaged.", code="malformed_media")
        seen.append(box)
        pos += size
    if not seen or seen[0] != b"ftyp" or b"moov" not in seen:
        raise Invalid(
            "The video file has no playable structure (ftyp and moov boxes).", code="malformed_media"
        )


def _check_webm(data: bytes) -> None:
    # EBML header: ID 1A45DFA3, then a size (VINT); the DocType "webm" must be inside that header.
    if len(data) < 5:
        raise Invalid("The video file is truncated.", code="malformed_media")
    first = data[4]
    length = 9 - first.bit_length() if first else 9
    if length > 8 or len(data) < 4 + length:
        raise Invalid("The video file is damaged.", code="malformed_media")
    size = int.from_bytes(data[4 : 4 + length], "big") & ((1 << (7 * length)) - 1)
    header = data[4 + length : 4 + length + size]
    if len(header) < size or b"webm" not in header or len(data) <= 4 + length + size:
        raise Invalid("The video file is truncated or not WebM.", code="malformed_media")


def _ratio(value: Any) -> float:
    return float(value)


def _gps(image: Image.Image) -> tuple[float, float] | None:
    """(lat, lon) from EXIF GPS, or None when missing, malformed or implausible (0, 0)."""
    try:
        gps = image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        if not gps:
            return None
        lat_dms, lon_dms = gps[ExifTags.GPS.GPSLatitude], gps[ExifTags.GPS.GPSLongitude]
        lat = sum(_ratio(v) / 60**i for i, v in enumerate(lat_dms))
        lon = sum(_ratio(v) / 60**i for i, v in enumerate(lon_dms))
        if str(gps.get(ExifTags.GPS.GPSLatitudeRef, "N")).upper().startswith("S"):
            lat = -lat
        if str(gps.get(ExifTags.GPS.GPSLongitudeRef, "E")).upper().startswith("W"):
            lon = -lon
    except (KeyError, TypeError, ValueError, ZeroDivisionError, *_IMAGE_ERRORS):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    if lat == 0 and lon == 0:
        return None
    return round(lat, 7), round(lon, 7)


def _flatten(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency composited onto white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def _encode(image: Image.Image, content_type: str) -> bytes:
    """Re-encode without any metadata (the image's ``info`` is dropped, nothing is passed on)."""
    out = BytesIO()
    if content_type == "image/jpeg":
        clean = _flatten(image).copy()
        clean.info = {}
        clean.save(out, "JPEG", quality=85, optimize=True)
    elif content_type == "image/png":
        clean = image.convert("RGBA") if image.mode not in ("L", "RGB", "RGBA") else image.copy()
        clean.info = {}
        clean.save(out, "PNG", optimize=False)
    else:
        clean = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        clean.info = {}
        clean.save(out, "WEBP", quality=85)
    return out.getvalue()


def _thumbnail(image: Image.Image, px: int) -> bytes:
    thumb = _flatten(image).copy()
    thumb.thumbnail((px, px), Image.Resampling.LANCZOS)
    thumb.info = {}
    out = BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


def _process_photo(settings: Settings, data: bytes, content_type: str) -> _Processed:
    if content_type == "image/heic" and not _HEIC:
        raise ApiError(
            415,
            "HEIC photos are not supported on this server; send JPEG (phones convert when sharing to a browser).",
            code="unsupported_media_type",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=[_PIL_FORMATS[content_type]])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ApiError(
                413, "The image has too many pixels (decompression bomb refused).", code="image_too_large"
            ) from None
        except _IMAGE_ERRORS:
            raise Invalid(
                "The image file is damaged or not what it claims to be.", code="malformed_media"
            ) from None
        width, height = image.size
        if width < 1 or height < 1 or width * height > settings.media_max_pixels:
            raise ApiError(
                413,
                f"The image is {width}×{height} pixels; at most {settings.media_max_pixels} pixels are accepted.",
                code="image_too_large",
                details={"width": width, "height": height, "max_pixels": settings.media_max_pixels},
            )
        gps = _gps(image)
        try:
            image.load()
            upright = ImageOps.exif_transpose(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ApiError(
                413, "The image has too many pixels (decompression bomb refused).", code="image_too_large"
            ) from None
        except _IMAGE_ERRORS:
            raise Invalid("The image file is truncated or damaged.", code="malformed_media") from None
    stored_type = _OUTPUT[content_type]
    encoded = _encode(upright, stored_type)
    return _Processed(
        data=encoded,
        content_type=stored_type,
        width=upright.width,
        height=upright.height,
        thumbnail=_thumbnail(upright, settings.media_thumbnail_px),
        gps=gps,
    )


# -- files ---------------------------------------------------------------------------------------------


def media_path(settings: Settings, sha256: str, content_type: str) -> Path:
    """Where the file with this hash and type lives (thumbnails are ``image/jpeg``)."""
    return settings.media_dir / sha256[:2] / f"{sha256}.{EXTENSIONS[content_type]}"


def _write(settings: Settings, data: bytes, content_type: str) -> str:
    sha = hashlib.sha256(data).hexdigest()
    path = media_path(settings, sha, content_type)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return sha


def read_capped(stream: IO[bytes], settings: Settings) -> bytes:
    """Read an upload stream, refusing (413) as soon as it exceeds the largest size any kind allows."""
    limit = max(settings.media_max_photo_bytes, settings.media_max_video_bytes)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(413, f"The file is larger than {limit} bytes.", code="payload_too_large")
    return data


# -- public operations ---------------------------------------------------------------------------------


def store_upload(
    settings: Settings, session: Session, data: bytes, filename: str | None, declared_type: str | None
) -> StoredMedia:
    """Validate, clean and store one upload; add (flush, not commit) its :class:`MediaItem`.

    ``filename`` and ``declared_type`` are only used in error messages: the type comes from the content.
    """
    label = f" ({filename})" if filename else ""
    if not data:
        raise Invalid(f"The file{label} is empty.", code="malformed_media")
    content_type = sniff(data)
    if content_type is None:
        raise ApiError(
            415,
            f"The file{label} is not a supported photo (JPEG, PNG, WebP, AVIF) or video (MP4, MOV, WebM)"
            + (f"; it was declared as {declared_type}." if declared_type else "."),
            code="unsupported_media_type",
        )
    kind = kind_of(content_type)
    cap = settings.media_max_video_bytes if kind == "video" else settings.media_max_photo_bytes
    if len(data) > cap:
        raise ApiError(
            413,
            f"The {kind}{label} is {len(data)} bytes; at most {cap} bytes are accepted.",
            code="payload_too_large",
            details={"bytes": len(data), "max_bytes": cap, "kind": kind},
        )
    if kind == "video":
        if content_type == "video/webm":
            _check_webm(data)
            data = video_metadata.scrub_webm(data)
        else:
            _check_bmff(data)
            data = video_metadata.scrub_bmff(data)
        processed = _Processed(data, content_type, None, None, None, None)
    else:
        processed = _process_photo(settings, data, content_type)

    sha = hashlib.sha256(processed.data).hexdigest()
    existing = session.scalar(select(MediaItem).where(MediaItem.sha256 == sha))
    if existing is not None:
        _write(settings, processed.data, processed.content_type)  # restore the file if it went missing
        return StoredMedia(existing, processed.gps, True)
    _write(settings, processed.data, processed.content_type)
    thumb_sha = _write(settings, processed.thumbnail, "image/jpeg") if processed.thumbnail else None
    item = MediaItem(
        sha256=sha,
        content_type=processed.content_type,
        kind=kind,
        bytes=len(processed.data),
        width=processed.width,
        height=processed.height,
        thumbnail_sha256=thumb_sha,
        exif_lat=processed.gps[0] if processed.gps else None,
        exif_lon=processed.gps[1] if processed.gps else None,
        review_state="pending",
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():  # a concurrent upload of the same content may win the race
            session.add(item)
    except IntegrityError:
        winner = session.scalar(select(MediaItem).where(MediaItem.sha256 == sha))
        if winner is None:
            raise
        return StoredMedia(winner, processed.gps, True)
    return StoredMedia(item, processed.gps, False)


def get_media(session: Session, item: MediaItem | int) -> MediaItem:
    if isinstance(item, MediaItem):
        return item
    found = session.get(MediaItem, item)
    if found is None:
        raise NotFound(f"Media {item} not found.")
    return found


def set_review_state(session: Session, item: MediaItem | int, state: str) -> MediaItem:
    """Staff review: ``approved`` publishes the stored file, ``hidden`` withdraws it, ``pending`` resets.

    ``redacted`` is set by :func:`redact` (it needs the blurred copy); setting it here is allowed only when
    a redacted copy exists. Flushes, does not commit (the caller audits and commits).
    """
    media = get_media(session, item)
    if state not in REVIEW_STATES:
        raise Invalid(f"Unknown review state {state!r}; use one of {', '.join(REVIEW_STATES)}.")
    if state == "redacted" and media.redacted_sha256 is None:
        raise Invalid("This media has no redacted copy; redact regions first.", code="not_redacted")
    media.review_state = state
    media.reviewed_at = utcnow()
    session.flush()
    return media


Box = tuple[int, int, int, int]


def redact(settings: Settings, session: Session, item: MediaItem | int, boxes: Sequence[Box]) -> MediaItem:
    """Blur rectangles ``(left, top, right, bottom)`` (pixels of the stored photo) into a redacted copy.

    Boxes add up: a second call blurs the already redacted copy. The original stays for staff; the public
    variant becomes the redacted copy (``review_state = "redacted"``). Flushes, does not commit.
    """
    media = get_media(session, item)
    if media.kind != "photo" or media.width is None or media.height is None:
        raise Invalid("Only photos can be redacted.", code="not_a_photo")
    if not boxes:
        raise Invalid("Give at least one rectangle to blur.")
    for box in boxes:
        left, top, right, bottom = box
        if not (0 <= left < right <= media.width and 0 <= top < bottom <= media.height):
            raise Invalid(
                f"Rectangle {list(box)} is empty or outside the {media.width}×{media.height} photo.",
                details={"box": list(box), "width": media.width, "height": media.height},
            )
    source_sha = media.redacted_sha256 or media.sha256
    with Image.open(media_path(settings, source_sha, media.content_type)) as opened:
        image = opened.copy()
    for left, top, right, bottom in boxes:
        region = image.crop((left, top, right, bottom))
        w, h = region.size
        coarse = region.resize((max(1, w // 12), max(1, h // 12)), Image.Resampling.BILINEAR)
        region = coarse.resize((w, h), Image.Resampling.NEAREST).filter(ImageFilter.GaussianBlur(4))
        image.paste(region, (left, top))
    encoded = _encode(image, media.content_type)
    media.redacted_sha256 = _write(settings, encoded, media.content_type)
    media.redacted_thumbnail_sha256 = _write(
        settings, _thumbnail(image, settings.media_thumbnail_px), "image/jpeg"
    )
    media.review_state = "redacted"
    media.reviewed_at = utcnow()
    session.flush()
    return media

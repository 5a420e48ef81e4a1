"""Stored media (photos, short videos): one row per distinct content, files addressed by SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, UTCDateTime

REVIEW_STATES = ("pending", "approved", "hidden", "redacted")
KINDS = ("photo", "video")


class MediaItem(Base):
    """A photo or video in the content-addressed store (``<media_dir>/<sha[:2]>/<sha>.<ext>``).

    ``sha256`` is the hash of the stored (re-encoded, metadata-free) file, not of the upload, so the same
    picture uploaded twice is stored once. Only staff-reviewed media is public: ``approved`` serves the
    stored file, ``redacted`` serves ``redacted_sha256`` (the blurred copy), ``pending`` and ``hidden``
    are for staff only. ``exif_lat``/``exif_lon`` are kept only as a location fallback for the case the
    photo belongs to; they are never published.
    """

    __tablename__ = "media_items"
    __table_args__ = (
        CheckConstraint("kind IN ('photo', 'video')", name="kind"),
        CheckConstraint("review_state IN ('pending', 'approved', 'hidden', 'redacted')", name="review_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    redacted_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    redacted_thumbnail_sha256: Mapped[str | None] = mapped_column(String(64))
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    review_state: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MediaUpload(Base):
    """Who uploaded a media item: the proof a later request must match to use it (a report's
    ``media_ids``, a resolution's ``after_media_ids``).

    Media ids are sequential, so an id alone proves nothing. ``uploader`` is the uploading principal
    (``user:<id>``, ``key:<id>``) or, for an anonymous upload, ``anon:`` and the SHA-256 of the random
    uploader token the response set as a cookie. Content is stored once however many people upload it,
    so the position read from the EXIF of *this* upload is kept here: a report falls back on its own
    photo's position, never on another uploader's.
    """

    __tablename__ = "media_uploads"
    __table_args__ = (Index("ix_media_uploads_media_uploader", "media_id", "uploader"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    media_id: Mapped[int] = mapped_column(ForeignKey("media_items.id", ondelete="CASCADE"))
    uploader: Mapped[str] = mapped_column(String(80))
    exif_lat: Mapped[float | None] = mapped_column(Float)
    exif_lon: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Stored media (photos, short videos): one row per distinct content, files addressed by SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, Integer, String
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

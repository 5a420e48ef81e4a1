"""Which areas are live: the rollout of the service, area by area, with per-area settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime


class AreaRollout(Base):
    """An area taken into service (``live``) at a rollout stage, with its own settings.

    ``settings`` holds ``accept_reports`` (citizens may report there), ``alerts`` (area alerts go out) and
    ``note``. An area without a row is not live.
    """

    __tablename__ = "area_rollout"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), primary_key=True)
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(32), default="pilot")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[int | None] = mapped_column(Integer)

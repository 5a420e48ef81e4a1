"""Notification deliveries (every attempt recorded), web push subscriptions and sign-in one-time codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cityops.clock import utcnow
from cityops.db import Base, JSONType, UTCDateTime

DELIVERY_STATES = ("pending", "retrying", "sent", "failed")


class Delivery(Base):
    """One message to one address through one channel, with its attempts.

    ``pending``: recorded, sent after the transaction commits; ``retrying``: failed, retried at
    ``next_attempt_at``; ``sent``; ``failed``: given up (permanent error, attempts exhausted, or a
    one-time code, which is never re-sent). ``message`` keeps what is needed to retry; the text of
    sensitive messages (one-time codes) is not kept.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'retrying', 'sent', 'failed')", name="status"),
        Index("ix_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(1024))  # phone, e-mail, push endpoint or user:<id>
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    message: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PushSubscription(Base):
    """A browser's Web Push subscription (endpoint + keys), optionally tied to a user.

    ``key_hash`` is the SHA-256 of the device key handed to the browser once when it registered: an
    anonymous device manages its area subscriptions with that key, never with the endpoint (personal data).
    """

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    endpoint: Mapped[str] = mapped_column(String(1024), unique=True)
    key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    p256dh: Mapped[str] = mapped_column(String(255))
    auth: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # push service said it is gone


class OtpCode(Base):
    """A sign-in code sent to a phone: only a salted HMAC of it is stored."""

    __tablename__ = "otp_codes"
    __table_args__ = (Index("ix_otp_codes_phone_created_at", "phone", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # verified, or replaced by a newer code
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id", ondelete="SET NULL"))

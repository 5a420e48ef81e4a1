"""One-time codes for phone sign-in: 6 digits by SMS (logged in dev), stored only as a salted HMAC.

Both functions commit the session they are given: a code must be stored before it is sent, and a wrong
entry must count even when the caller's request fails. Call them in their own unit of work (the sign-in
endpoint), not in the middle of another change.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError, Invalid
from cityops.identity.phones import normalize_phone
from cityops.notify.channels import Recipient
from cityops.notify.models import OtpCode
from cityops.notify.notifier import Notifier, render
from cityops.settings import Environment, Settings


def canonical_phone(phone: str) -> str:
    """``0912 345 678`` → ``+84912345678`` (``identity.phones.normalize_phone``, the one rule for numbers),
    so a code is stored and checked under one key whatever spacing the caller passes. 422 when implausible.
    """
    try:
        return normalize_phone(phone)
    except ValueError:
        raise Invalid("The phone number is not valid.", code="invalid_phone") from None


def _digest(salt: str, phone: str, code: str) -> str:
    return hmac.new(bytes.fromhex(salt), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_otp(session: Session, settings: Settings, phone: str, *, now: datetime | None = None) -> None:
    """Send a new 6-digit code to ``phone`` (earlier codes stop working); commits.

    Refused with 429 after ``otp_max_per_hour`` codes to the same number within an hour.
    """
    now = now or utcnow()
    phone = canonical_phone(phone)
    recent = session.scalar(
        select(func.count())
        .select_from(OtpCode)
        .where(OtpCode.phone == phone, OtpCode.created_at > now - timedelta(hours=1))
    )
    if (recent or 0) >= settings.otp_max_per_hour:
        raise ApiError(
            429,
            "Too many codes were sent to this number; try again later.",
            code="too_many_requests",
            headers={"Retry-After": "3600"},
        )
    session.execute(
        update(OtpCode).where(OtpCode.phone == phone, OtpCode.used_at.is_(None)).values(used_at=now)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    salt = secrets.token_hex(16)
    row = OtpCode(
        phone=phone,
        salt=salt,
        code_hash=_digest(salt, phone, code),
        expires_at=now + timedelta(seconds=settings.otp_ttl_seconds),
        attempts=0,
        max_attempts=settings.otp_max_attempts,
        created_at=now,
    )
    session.add(row)
    session.flush()
    message = render(
        "otp",
        {"code": code, "minutes": max(1, settings.otp_ttl_seconds // 60)},
        Recipient(phone=phone),
        locale=settings.default_locale,
        sensitive=True,
    )
    deliveries = Notifier.from_settings(settings).send(session, message)
    if (
        not any(d.status == "pending" and d.channel != "log" for d in deliveries)
        and settings.env is Environment.PRODUCTION
    ):
        session.rollback()
        raise ApiError(503, "Sign-in codes cannot be sent: SMS is not configured.", code="sms_unavailable")
    row.delivery_id = next((d.id for d in deliveries if d.channel == "sms"), deliveries[0].id)
    session.commit()


def verify_otp(session: Session, phone: str, code: str, *, now: datetime | None = None) -> bool:
    """True once for the right, unexpired code of the latest one issued to ``phone``; commits.

    Every wrong entry counts; after ``max_attempts`` (``otp_max_attempts`` when issued) the code is dead.
    """
    now = now or utcnow()
    try:
        phone = canonical_phone(phone)
    except Invalid:
        return False
    row = session.scalar(
        select(OtpCode)
        .where(OtpCode.phone == phone, OtpCode.used_at.is_(None))
        .order_by(OtpCode.created_at.desc(), OtpCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.expires_at <= now or row.attempts >= row.max_attempts:
        session.commit()
        return False
    row.attempts += 1
    code = code.strip()
    ok = bool(re.fullmatch(r"\d{6}", code)) and hmac.compare_digest(
        row.code_hash, _digest(row.salt, phone, code)
    )
    if ok:
        row.used_at = now
    session.commit()
    return ok

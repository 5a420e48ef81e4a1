"""Phone sign-in codes: sent (logged in dev), stored hashed, limited in attempts, time and rate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.notify import LogChannel, issue_otp, verify_otp
from cityops.notify.models import Delivery, OtpCode
from cityops.settings import Settings, load_settings

STRONG_SECRET = "k7Qp-2vXr9LmZt4Wb8YhNc3Fd6Sg1Jx5Ue0Ra"  # passes the production strength check

PHONE = "+84912345678"


@pytest.fixture(autouse=True)
def _clear_log() -> Iterator[None]:
    LogChannel.clear()
    yield
    LogChannel.clear()


def last_code() -> str:
    message = LogChannel.recent("otp")[-1]
    match = re.search(r"\b(\d{6})\b", message.body_vi)
    assert match is not None
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_code_is_sent_and_only_its_hash_stored(settings: Settings, session: Session) -> None:
    issue_otp(session, settings, "0912 345 678")
    code = last_code()
    assert LogChannel.recent("otp")[-1].recipient.phone == PHONE
    [row] = session.scalars(select(OtpCode))
    assert row.phone == PHONE
    assert code not in row.code_hash
    assert row.expires_at - row.created_at == timedelta(seconds=settings.otp_ttl_seconds)
    delivery = session.get(Delivery, row.delivery_id)
    assert delivery is not None
    assert delivery.status == "sent"
    assert code not in str(delivery.message)
    assert verify_otp(session, "+84 912 345 678", code)
    assert not verify_otp(session, PHONE, code)  # used once only


def test_wrong_codes_count_and_lock_the_code(settings: Settings, session: Session) -> None:
    issue_otp(session, settings, PHONE)
    code = last_code()
    for attempt in ("12345", "abcdef", *[wrong(code)] * (settings.otp_max_attempts - 2)):
        assert not verify_otp(session, PHONE, attempt)
    assert not verify_otp(session, PHONE, code)  # attempts exhausted
    row = session.scalars(select(OtpCode)).one()
    assert row.attempts == settings.otp_max_attempts


def test_expired_code_is_refused(settings: Settings, session: Session) -> None:
    issue_otp(session, settings, PHONE)
    code = last_code()
    later = utcnow() + timedelta(seconds=settings.otp_ttl_seconds + 1)
    assert not verify_otp(session, PHONE, code, now=later)
    assert verify_otp(session, PHONE, code)


def test_new_code_replaces_the_old_one(settings: Settings, session: Session) -> None:
    issue_otp(session, settings, PHONE)
    first = last_code()
    issue_otp(session, settings, PHONE)
    second = last_code()
    if first != second:
        assert not verify_otp(session, PHONE, first)
    assert verify_otp(session, PHONE, second)
    assert not verify_otp(session, "+84900000000", second)  # another number has no code


def test_codes_per_hour_are_limited(settings: Settings, session: Session) -> None:
    limited = settings.model_copy(update={"otp_max_per_hour": 2})
    issue_otp(session, limited, PHONE)
    issue_otp(session, limited, PHONE)
    with pytest.raises(ApiError) as info:
        issue_otp(session, limited, PHONE)
    assert info.value.status == 429
    assert info.value.headers == {"Retry-After": "3600"}
    assert session.scalar(select(func.count()).select_from(OtpCode)) == 2
    # An hour later it works again.
    issue_otp(session, limited, PHONE, now=utcnow() + timedelta(hours=1, seconds=1))


@pytest.mark.parametrize("phone", ["12345", "+84abc", "", "09123"])
def test_bad_phone_is_refused(settings: Settings, session: Session, phone: str) -> None:
    with pytest.raises(ApiError) as info:
        issue_otp(session, settings, phone)
    assert info.value.status == 422
    assert not verify_otp(session, phone, "123456")
    assert session.scalar(select(func.count()).select_from(OtpCode)) == 0


def test_production_without_sms_refuses_to_issue(settings: Settings, session: Session) -> None:
    production = load_settings(
        env="production",
        secret_key=STRONG_SECRET,
        data_dir=settings.data_dir,
        database_url=settings.database_url,
    )
    with pytest.raises(ApiError) as info:
        issue_otp(session, production, PHONE)
    assert info.value.status == 503
    assert session.scalar(select(func.count()).select_from(OtpCode)) == 0
    assert LogChannel.recent() == []

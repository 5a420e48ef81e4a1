"""Time: aware UTC inside, Asia/Ho_Chi_Minh only at the edges (display, calendars, input parsing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC; a naive value is taken to be local time (what a Vietnamese user typed)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)


def to_local(value: datetime, tz: ZoneInfo = LOCAL_TZ) -> datetime:
    return ensure_utc(value).astimezone(tz)


def format_date(value: date | datetime) -> str:
    """dd/mm/yyyy, the Vietnamese convention."""
    if isinstance(value, datetime):
        value = to_local(value)
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime) -> str:
    """HH:MM dd/mm/yyyy in local time."""
    return to_local(value).strftime("%H:%M %d/%m/%Y")


def parse_date(text: str) -> date:
    """Parse dd/mm/yyyy (or ISO yyyy-mm-dd) into a date."""
    text = text.strip()
    if "/" in text:
        day, month, year = (int(p) for p in text.split("/"))
        return date(year, month, day)
    return date.fromisoformat(text)

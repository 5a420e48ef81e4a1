"""Calendar periods of Vietnam (day, month, quarter, year) and their bounds as aware UTC instants.

A period is named by the local date it starts on; its facts are those of ``[start, end)`` where both are
local midnights turned into UTC, so a report filed at 23:30 on 31 March (local) counts for March.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from cityops.clock import LOCAL_TZ, to_local
from cityops.specs import Period


def start_of(day: date, period: Period | str) -> date:
    """The first local date of the period holding ``day``."""
    match Period(period):
        case Period.DAY:
            return day
        case Period.MONTH:
            return day.replace(day=1)
        case Period.QUARTER:
            return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        case Period.YEAR:
            return date(day.year, 1, 1)


def start_at(moment: datetime, period: Period | str) -> date:
    """The period holding the instant ``moment`` (read on the local calendar)."""
    return start_of(to_local(moment).date(), period)


def following(start: date, period: Period | str) -> date:
    """The first local date of the next period."""
    match Period(period):
        case Period.DAY:
            return start + timedelta(days=1)
        case Period.MONTH:
            return date(start.year + start.month // 12, start.month % 12 + 1, 1)
        case Period.QUARTER:
            month = start.month + 3
            return date(start.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
        case Period.YEAR:
            return date(start.year + 1, 1, 1)


def local_midnight(day: date) -> datetime:
    """Local midnight at the start of ``day``, as an aware UTC instant."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(UTC)


def bounds(start: date, period: Period | str) -> tuple[datetime, datetime]:
    """``[start, end)`` of the period beginning on ``start``, in UTC."""
    return local_midnight(start), local_midnight(following(start, period))


def starts_between(first: date, last: date, period: Period | str) -> list[date]:
    """Every period start from the period holding ``first`` to the one holding ``last`` (inclusive)."""
    out: list[date] = []
    current = start_of(first, period)
    while current <= last:
        out.append(current)
        current = following(current, period)
    return out

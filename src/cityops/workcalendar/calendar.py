"""The Vietnamese working calendar that SLA deadlines are counted on.

A working day is a weekday that is not a public holiday, or a weekend day declared a make-up working day.
Working time is the working periods of a working day in local time (by default 07:30-11:30 and 13:30-17:00,
the hours of most People's Committees). Inputs and outputs are aware UTC datetimes; local time is used only
inside, to find the periods.

Public holidays come from the ``holidays`` package (``country_holidays("VN")``), which gives, per year:
New Year (1/1), Tết (29 or 30 Tết to mùng 4 or 5, moving days that fall on a weekend as the Labour Code
does), Hùng Kings' day (10/3 lunar, moved to Monday when on a Sunday), 30/4, 1/5, 2/9 with the adjacent day
(1/9 or 3/9, since 2021), Vietnam Culture Day 24/11 (since 2026), and the government's announced day swaps
for the years the package knows (e.g. 2/5/2025 off for Saturday 26/4/2025 worked; the worked Saturday comes
from ``weekend_workdays``). What it cannot know: swaps the government announces after the package release,
provincial decisions, and a Tết extension decided for civil servants beyond the Labour Code days. Those are
configured with ``extra_days_off`` / ``makeup_workdays`` (settings) on top of the package.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays

from cityops.clock import parse_date
from cityops.settings import Settings, SettingsError

Period = tuple[time, time]
DEFAULT_PERIODS: tuple[Period, ...] = ((time(7, 30), time(11, 30)), (time(13, 30), time(17, 0)))
# Search no further than this for a working moment (a calendar with no working day at all is an error).
_MAX_DAYS = 3 * 366


@lru_cache(maxsize=64)
def _vn_year(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(public holidays, make-up working days) of one year, from the ``holidays`` package."""
    vn = holidays.country_holidays("VN", years=year)
    days_off = frozenset(d for d in vn if d.year == year)
    makeup = frozenset(d for d in vn.weekend_workdays if d.year == year)
    return days_off, makeup


def public_holidays(year: int) -> dict[date, str]:
    """The public holidays the ``holidays`` package gives for ``year`` (names in English), for display."""
    vn = holidays.country_holidays("VN", years=year, language="en_US")
    return {d: str(name) for d, name in sorted(vn.items()) if d.year == year}


def parse_periods(values: Iterable[str]) -> tuple[Period, ...]:
    """Parse ``["07:30-11:30", ...]`` into ordered, non-overlapping periods."""
    periods: list[Period] = []
    for value in values:
        try:
            start_text, end_text = value.split("-")
            start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
        except ValueError:
            raise SettingsError(f"workday period {value!r} is not HH:MM-HH:MM") from None
        if start >= end:
            raise SettingsError(f"workday period {value!r} ends before it starts")
        periods.append((start, end))
    periods.sort()
    for (_, end), (start, _) in pairwise(periods):
        if start < end:
            raise SettingsError("workday periods overlap")
    if not periods:
        raise SettingsError("at least one workday period is needed")
    return tuple(periods)


def _parse_dates(values: Iterable[str], setting: str) -> set[date]:
    out = set()
    for value in values:
        try:
            out.add(parse_date(value))
        except ValueError:
            raise SettingsError(f"{setting}: {value!r} is not a dd/mm/yyyy or ISO date") from None
    return out


class WorkingCalendar:
    """Working days and hours in Vietnam; all datetimes in and out are aware UTC."""

    def __init__(
        self,
        extra_days_off: set[date] | frozenset[date] = frozenset(),
        makeup_workdays: set[date] | frozenset[date] = frozenset(),
        work_periods: tuple[Period, ...] = DEFAULT_PERIODS,
        tz: ZoneInfo | str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self.extra_days_off = frozenset(extra_days_off)
        self.makeup_workdays = frozenset(makeup_workdays)
        self.work_periods = parse_periods(f"{a:%H:%M}-{b:%H:%M}" for a, b in work_periods)
        self.tz = ZoneInfo(tz) if isinstance(tz, str) else tz
        self._day_seconds = sum(
            (datetime.combine(date.min, b) - datetime.combine(date.min, a)).total_seconds()
            for a, b in self.work_periods
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkingCalendar:
        return cls(
            extra_days_off=_parse_dates(settings.extra_days_off, "extra_days_off"),
            makeup_workdays=_parse_dates(settings.makeup_workdays, "makeup_workdays"),
            work_periods=parse_periods(settings.workday_periods),
            tz=settings.timezone,
        )

    # -- days ---------------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Configured days off win over make-up days, which win over holidays and weekends."""
        if d in self.extra_days_off:
            return False
        holidays_, package_makeup = _vn_year(d.year)
        if d in self.makeup_workdays or d in package_makeup:
            return True
        if d in holidays_:
            return False
        return d.weekday() < 5

    def _periods_on(self, d: date) -> list[tuple[datetime, datetime]]:
        """The working periods of local day ``d`` as UTC intervals (empty on a day off)."""
        if not self.is_working_day(d):
            return []
        return [
            (
                datetime.combine(d, a, tzinfo=self.tz).astimezone(UTC),
                datetime.combine(d, b, tzinfo=self.tz).astimezone(UTC),
            )
            for a, b in self.work_periods
        ]

    def _local_day(self, t: datetime) -> date:
        return _utc(t).astimezone(self.tz).date()

    # -- moments ------------------------------------------------------------------------------------

    def next_working_moment(self, t: datetime) -> datetime:
        """``t`` itself when it is inside working time, else the start of the next working period."""
        t = _utc(t)
        day = self._local_day(t)
        for _ in range(_MAX_DAYS):
            for start, end in self._periods_on(day):
                if t < end:
                    return max(t, start)
            day += timedelta(days=1)
        raise ValueError("no working time within three years: check the calendar configuration")

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The moment ``hours`` working hours after ``start`` (a deadline).

        A deadline that ends exactly at the end of a period stays there (17:00), it does not jump to the
        next morning. ``hours == 0`` gives ``start`` itself.
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        t = _utc(start)
        remaining = timedelta(hours=hours)
        if not remaining:
            return t
        day = self._local_day(t)
        for _ in range(_MAX_DAYS * 2):
            periods = self._periods_on(day)
            # Skip whole working days in one step once past the start day.
            if periods and t <= periods[0][0] and remaining > timedelta(seconds=self._day_seconds):
                remaining -= timedelta(seconds=self._day_seconds)
                day += timedelta(days=1)
                continue
            for p_start, p_end in periods:
                if t >= p_end:
                    continue
                begin = max(t, p_start)
                available = p_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
                t = p_end
            day += timedelta(days=1)
        raise ValueError("deadline beyond the calendar search range: check the calendar configuration")

    def working_hours_between(self, a: datetime, b: datetime) -> float:
        """Working hours from ``a`` to ``b``; negative when ``b`` is before ``a``."""
        a, b = _utc(a), _utc(b)
        if b < a:
            return -self.working_hours_between(b, a)
        total = timedelta()
        day = self._local_day(a)
        last = self._local_day(b)
        while day <= last:
            for p_start, p_end in self._periods_on(day):
                lo, hi = max(a, p_start), min(b, p_end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total / timedelta(hours=1)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError("naive datetime given to the working calendar; use aware UTC")
    return t.astimezone(UTC)

"""The working calendar: weekends, Tết, configured days off, make-up days, hours outside work."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from cityops.clock import LOCAL_TZ
from cityops.settings import SettingsError, load_settings
from cityops.workcalendar import WorkingCalendar, public_holidays


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """A local (Asia/Ho_Chi_Minh) wall-clock time as aware UTC, which is what the calendar takes."""
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


CAL = WorkingCalendar()


def test_weekend_is_skipped() -> None:
    # Friday 20/11/2026 16:00: 1 h left that day; Saturday and Sunday off; Monday 23/11 07:30-11:30 (4 h,
    # total 5) then 13:30 + 3 h = 16:30.
    assert CAL.add_working_hours(local(2026, 11, 20, 16), 8) == local(2026, 11, 23, 16, 30)
    assert not CAL.is_working_day(date(2026, 11, 21))
    assert not CAL.is_working_day(date(2026, 11, 22))


def test_tet_2027_as_the_holidays_package_gives_it() -> None:
    # Tết Nguyên Đán 2027 falls on Saturday 6/2/2027. The package gives 29 Tết (Thu 4/2), Giao thừa
    # (Fri 5/2), mùng 1-3 (6-8/2) and, since mùng 1 and 2 fall on the weekend, mùng 4 and mùng 5 (Tue 9/2
    # and Wed 10/2) as observed days: Thursday 4/2 to Wednesday 10/2 are off.
    tet = {d for d, name in public_holidays(2027).items() if d.month == 2}
    assert tet == {date(2027, 2, d) for d in range(4, 11)}
    # A report acknowledged within 8 working hours, received Wednesday 3/2/2027 15:00:
    # Wed 15:00-17:00 = 2 h; Thu 4/2 .. Wed 10/2 off; Thu 11/2 07:30-11:30 = 4 h (6 h), 13:30 + 2 h = 15:30.
    assert CAL.add_working_hours(local(2027, 2, 3, 15), 8) == local(2027, 2, 11, 15, 30)
    assert CAL.working_hours_between(local(2027, 2, 3, 15), local(2027, 2, 11, 15, 30)) == 8


def test_extra_day_off_and_makeup_saturday() -> None:
    cal = WorkingCalendar(extra_days_off={date(2026, 3, 9)}, makeup_workdays={date(2026, 3, 14)})
    # Fri 6/3 13:30-17:00 = 3.5 h; Mon 9/3 declared off; Tue 10/3 = 7.5 h (11 h); Wed 11/3 07:30 + 1 h.
    assert cal.add_working_hours(local(2026, 3, 6, 13, 30), 12) == local(2026, 3, 11, 8, 30)
    assert CAL.add_working_hours(local(2026, 3, 6, 13, 30), 12) == local(2026, 3, 10, 8, 30)
    # Fri 13/3 17:00 + 2 h: the make-up Saturday 14/3 works, so 09:30 that Saturday (Monday otherwise).
    assert cal.add_working_hours(local(2026, 3, 13, 17), 2) == local(2026, 3, 14, 9, 30)
    assert CAL.add_working_hours(local(2026, 3, 13, 17), 2) == local(2026, 3, 16, 9, 30)


def test_package_swaps_are_used() -> None:
    # 2025: Friday 2/5 off, worked on Saturday 26/4 instead (announced swap the package knows).
    assert not CAL.is_working_day(date(2025, 5, 2))
    assert CAL.is_working_day(date(2025, 4, 26))
    # Hùng Kings' day 2026 (10/3 lunar) is Sunday 26/4, observed Monday 27/4.
    assert not CAL.is_working_day(date(2026, 4, 27))
    # 2/9 and the adjacent day (1/9 in 2026), and 30/4, 1/5.
    for d in (date(2026, 9, 1), date(2026, 9, 2), date(2026, 4, 30), date(2026, 5, 1)):
        assert not CAL.is_working_day(d)
    # A configured day off wins over a package make-up day.
    assert not WorkingCalendar(extra_days_off={date(2025, 4, 26)}).is_working_day(date(2025, 4, 26))


def test_start_outside_working_hours() -> None:
    # Lunch break: counting starts at 13:30.
    assert CAL.add_working_hours(local(2026, 3, 10, 12), 1) == local(2026, 3, 10, 14, 30)
    # Evening: counting starts next morning at 07:30.
    assert CAL.add_working_hours(local(2026, 3, 10, 20), 1) == local(2026, 3, 11, 8, 30)
    assert CAL.next_working_moment(local(2026, 3, 10, 6)) == local(2026, 3, 10, 7, 30)
    assert CAL.next_working_moment(local(2026, 3, 10, 9)) == local(2026, 3, 10, 9)
    # Saturday night → Monday morning.
    assert CAL.next_working_moment(local(2026, 3, 14, 22)) == local(2026, 3, 16, 7, 30)
    # A deadline ending exactly at the end of the day stays at 17:00.
    assert CAL.add_working_hours(local(2026, 3, 10, 7, 30), 7.5) == local(2026, 3, 10, 17)
    assert CAL.working_hours_between(local(2026, 3, 14, 8), local(2026, 3, 15, 20)) == 0


@pytest.mark.parametrize("hours", [0, 0.25, 1, 4, 7.5, 8, 13.75, 40, 100, 333.5])
@pytest.mark.parametrize(
    "start",
    [local(2026, 3, 10, 9), local(2026, 3, 13, 16, 45), local(2027, 2, 3, 12), local(2026, 12, 31, 23)],
)
def test_round_trip(start: datetime, hours: float) -> None:
    end = CAL.add_working_hours(start, hours)
    assert end >= start
    assert end.tzinfo is not None
    assert CAL.working_hours_between(start, end) == hours
    assert CAL.working_hours_between(end, start) == -hours


def test_from_settings() -> None:
    settings = load_settings(
        env="test",
        workday_periods=["08:00-12:00"],
        extra_days_off=["10/03/2026"],
        makeup_workdays=["2026-03-14"],
    )
    cal = WorkingCalendar.from_settings(settings)
    assert cal.work_periods == ((time(8), time(12)),)
    assert not cal.is_working_day(date(2026, 3, 10))
    assert cal.is_working_day(date(2026, 3, 14))
    # Mon 9/3 11:00 + 2 h: 1 h Monday, Tuesday off, Wednesday 08:00 + 1 h.
    assert cal.add_working_hours(local(2026, 3, 9, 11), 2) == local(2026, 3, 11, 9)


@pytest.mark.parametrize(
    "overrides",
    [
        {"workday_periods": ["7:30-25:00"]},
        {"workday_periods": ["11:30-07:30"]},
        {"workday_periods": ["07:30-12:00", "11:00-17:00"]},
        {"workday_periods": []},
        {"extra_days_off": ["31/02/2026"]},
        {"makeup_workdays": ["tomorrow"]},
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, list[str]]) -> None:
    with pytest.raises(SettingsError):
        WorkingCalendar.from_settings(load_settings(env="test", **overrides))


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CAL.add_working_hours(datetime(2026, 3, 10, 9), 1)
    with pytest.raises(ValueError, match="negative"):
        CAL.add_working_hours(local(2026, 3, 10, 9), -1)
    with pytest.raises(ValueError, match="no working time"):
        Never().next_working_moment(local(2026, 3, 10, 9))


class Never(WorkingCalendar):
    """A calendar without a single working day (a misconfiguration must not loop forever)."""

    def is_working_day(self, d: date) -> bool:
        return False

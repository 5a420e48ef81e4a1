"""The Vietnamese working calendar (weekends, public holidays, configured days off and make-up days)."""

from cityops.workcalendar.calendar import DEFAULT_PERIODS, WorkingCalendar, public_holidays

__all__ = ["DEFAULT_PERIODS", "WorkingCalendar", "public_holidays"]

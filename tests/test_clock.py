"""Time: aware UTC inside, Asia/Ho_Chi_Minh (UTC+7, no daylight saving) and dd/mm/yyyy at the edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from cityops.clock import LOCAL_TZ, ensure_utc, format_date, format_datetime, parse_date, to_local, utcnow


def test_utcnow_is_aware_utc() -> None:
    now = utcnow()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)


def test_a_naive_time_is_taken_as_local() -> None:
    # Midnight on 1 July 2025 in Tây Ninh (the merger) is 17:00 UTC the day before.
    assert ensure_utc(datetime(2025, 7, 1, 0, 0)) == datetime(2025, 6, 30, 17, 0, tzinfo=UTC)


def test_an_aware_time_is_converted_not_reinterpreted() -> None:
    tokyo = timezone(timedelta(hours=9))
    result = ensure_utc(datetime(2025, 7, 1, 9, 0, tzinfo=tokyo))
    assert result == datetime(2025, 7, 1, 0, 0, tzinfo=UTC)
    assert result.tzinfo is UTC


@pytest.mark.parametrize("month", [1, 4, 7, 10])
def test_local_time_is_utc_plus_seven_all_year(month: int) -> None:
    local = to_local(datetime(2026, month, 15, 12, 0, tzinfo=UTC))
    assert local.utcoffset() == timedelta(hours=7)
    assert local.hour == 19
    assert local.tzinfo == LOCAL_TZ


def test_to_local_crosses_midnight() -> None:
    local = to_local(datetime(2025, 6, 30, 17, 30, tzinfo=UTC))
    assert (local.year, local.month, local.day, local.hour, local.minute) == (2025, 7, 1, 0, 30)


def test_format_date_is_dd_mm_yyyy() -> None:
    assert format_date(date(2025, 7, 1)) == "01/07/2025"
    assert format_date(date(2026, 12, 9)) == "09/12/2026"


def test_format_date_uses_the_local_date_of_an_instant() -> None:
    # 18:00 UTC on 30 June is already 1 July in Vietnam.
    assert format_date(datetime(2025, 6, 30, 18, 0, tzinfo=UTC)) == "01/07/2025"


def test_format_datetime_is_local_hh_mm_dd_mm_yyyy() -> None:
    assert format_datetime(datetime(2025, 6, 30, 17, 30, tzinfo=UTC)) == "00:30 01/07/2025"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01/07/2025", date(2025, 7, 1)),
        ("1/7/2025", date(2025, 7, 1)),
        (" 07/01/2025 ", date(2025, 1, 7)),  # day first: 7 January, not 1 July
        ("29/02/2024", date(2024, 2, 29)),
        ("2025-07-01", date(2025, 7, 1)),
    ],
)
def test_parse_date(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text", ["31/02/2025", "29/02/2025", "13/13/2025", "1/7", "01-07-2025", "hôm nay", ""]
)
def test_parse_date_refuses_what_is_not_a_date(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies; any ValueError is the contract
        parse_date(text)


def test_format_and_parse_round_trip() -> None:
    day = date(2025, 7, 1)
    assert parse_date(format_date(day)) == day

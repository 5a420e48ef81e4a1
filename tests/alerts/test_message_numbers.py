"""Alert texts read right in Vietnamese: a decimal comma, and units as people write them, never raw UCUM (#14)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from cityops.alerts.models import RuleKind
from cityops.alerts.service import _messages, display_unit


@pytest.mark.parametrize(
    ("ucum", "shown"),
    [
        ("{AQI}", ""),
        ("{vehicles}/h", "vehicles/h"),
        ("dB{A}", "dB(A)"),
        ("ug/m3", "µg/m³"),
        ("Cel", "°C"),
        ("[pH]", ""),
        ("[NTU]", "NTU"),
        ("g/L", "g/L"),
    ],
)
def test_units_are_shown_as_people_write_them(ucum: str, shown: str) -> None:
    assert display_unit(ucum) == shown


def test_vietnamese_message_has_a_decimal_comma_and_english_a_point() -> None:
    ctx: dict[str, Any] = {
        "severity_vi": "Cảnh báo",
        "severity_en": "Warning",
        "property_vi": "Độ mặn",
        "property_en": "Salinity",
        "station": "Trạm Tân An",
        "value": "2.219",
        "value_vi": "2,219",
        "unit": "g/L",
        "time": "08:00 09/12/2026",
        "level_text_vi": "",
        "level_text_en": "",
    }
    rule = cast(Any, SimpleNamespace(kind=RuleKind.THRESHOLD, message_vi="", message_en=""))
    vi, en = _messages(ctx, rule)
    assert "là 2,219 g/L" in vi
    assert "is 2.219 g/L" in en

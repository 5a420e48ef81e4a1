"""The traffic sector declares the roads and traffic case categories (codes unchanged: cases point at them)."""

from __future__ import annotations

from tests.sectors.sector_checks import assert_categories


def test_case_categories_come_from_the_sector() -> None:
    assert_categories("cityops.sectors.traffic.plugin", ["roads", "traffic", "traffic_incident"])

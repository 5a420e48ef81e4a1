"""The public order sector: its declarations come from its own plugin."""

from __future__ import annotations

from tests.sectors.sector_checks import assert_categories, assert_place_types

PLUGIN = "cityops.sectors.public_order.plugin"


def test_case_categories_come_from_the_sector() -> None:
    assert_categories(PLUGIN, ["public_order", "construction"])


def test_place_types_come_from_the_sector() -> None:
    assert_place_types(PLUGIN, [])

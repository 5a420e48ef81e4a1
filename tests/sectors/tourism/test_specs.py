"""The tourism sector: its declarations come from its own plugin, and its demo places are sound."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cityops.sectors.tourism import specs
from cityops.sectors.tourism.demo import DATA, load
from cityops.specs import PlaceTypeSpec
from tests.sectors.sector_checks import (
    assert_categories,
    assert_demo_loads_once,
    assert_place_types,
    check_demo_file,
)

PLUGIN = "cityops.sectors.tourism.plugin"


def test_case_categories_come_from_the_sector() -> None:
    assert_categories(PLUGIN, ["tourism"])


def test_place_types_come_from_the_sector() -> None:
    assert_place_types(PLUGIN, ["tourist_site", "accommodation"])


@pytest.mark.parametrize("spec", specs.PLACE_TYPES, ids=lambda spec: spec.code)
def test_demo_places_are_marked_and_valid(spec: PlaceTypeSpec) -> None:
    check_demo_file(DATA, spec)


def test_demo_places_load_once(session: Session) -> None:
    assert_demo_loads_once(session, load, DATA, specs.PLACE_TYPES)

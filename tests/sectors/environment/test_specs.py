"""The environment sector's categories and its station place type, which the demo stations' properties fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

import cityops.sectors
from cityops.places.attributes import AttributeErrors, validate_attributes
from cityops.sectors.environment.specs import STATION
from tests.sectors.sector_checks import assert_categories, assert_place_types

PLUGIN = "cityops.sectors.environment.plugin"
#: Every sector's demo stations (environment's water and air stations, traffic's counters) are stations.
STATION_ROWS = [
    row
    for path in sorted(Path(cityops.sectors.__file__).parent.glob("*/data/stations.json"))
    for row in orjson.loads(path.read_bytes())
]


def test_case_categories_come_from_the_sector() -> None:
    assert_categories(PLUGIN, ["drainage", "waste", "environment"])


def test_place_types_come_from_the_sector() -> None:
    assert_place_types(PLUGIN, ["station"])
    assert [s.code for s in STATION.statuses] == ["online", "offline", "maintenance"]
    assert STATION.visibility == "public"
    assert [a.code for a in STATION.attributes if a.staff_only] == ["operator_phone"]


def _attributes(row: dict[str, Any]) -> dict[str, Any]:
    """A demo station row as place attributes (``distance_to_sea_km`` is the station's ``river_km``)."""
    names = {"distance_to_sea_km": "river_km"}
    codes = {a.code for a in STATION.attributes}
    return {names.get(k, k): v for k, v in row.items() if names.get(k, k) in codes}


@pytest.mark.parametrize("row", STATION_ROWS, ids=lambda row: row["code"])
def test_every_demo_station_fits_the_station_type(row: dict[str, Any]) -> None:
    attributes = _attributes(row)
    assert attributes["kind"] == row["kind"]
    assert validate_attributes(STATION.attributes, attributes) == attributes


def test_alarm_levels_are_checked_by_level_and_bounds() -> None:
    with pytest.raises(AttributeErrors) as caught:
        validate_attributes(STATION.attributes, {"kind": "water", "alarm_levels": {"IV": 1.0}})
    assert caught.value.problems[0]["field"] == "attributes.alarm_levels"
    with pytest.raises(AttributeErrors):
        validate_attributes(STATION.attributes, {"kind": "water", "alarm_levels": {"I": 99}})
    assert validate_attributes(STATION.attributes, {"kind": "water", "alarm_levels": {"I": 1.2}}) == {
        "kind": "water",
        "alarm_levels": {"I": 1.2},
    }

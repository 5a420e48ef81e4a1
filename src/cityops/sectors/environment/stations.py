"""The pilot's monitoring stations (demo): salinity and water level along the Vàm Cỏ rivers, air quality
in Tân An and Đức Hòa, traffic counters on QL1 and QL62 — one row each in ``stations.json``.

Coordinates are approximate (placed on the river or road near the named town); distances to the sea are
measured along the Vàm Cỏ → Soài Rạp channel and are approximate too. Water-level alarm levels I/II/III are
demo values in metres above the Hòn Dấu datum: replace them with the levels the province declares for each
station (they are read from the Thing's ``alarm_levels`` property, so an operator can edit them). A row
holds :class:`~cityops.sensing.simulator.StationSpec` fields; what a station measures follows from its
``kind``.
"""

from __future__ import annotations

from typing import Any

from cityops.sectors.environment.tables import read_table
from cityops.sensing.simulator import StationSpec

WATER = ("salinity", "conductivity", "water_level", "water_temperature")
AIR = ("pm25", "pm10")
TRAFFIC = ("traffic_motorbike", "traffic_car", "traffic_heavy", "mean_speed")
PROPERTIES_BY_KIND: dict[str, tuple[str, ...]] = {"water": WATER, "air": AIR, "traffic": TRAFFIC}


def station_specs(rows: list[dict[str, Any]]) -> tuple[StationSpec, ...]:
    """Station specs from table rows (``properties`` from the row's ``kind``)."""
    return tuple(StationSpec(**row, properties=PROPERTIES_BY_KIND[row["kind"]]) for row in rows)


STATIONS: tuple[StationSpec, ...] = station_specs(read_table("stations.json"))

BY_CODE = {s.code: s for s in STATIONS}

"""The pilot's traffic counters (demo): QL1 at Tân An and Bến Lức, QL62 at Tân An — one row each in
``data/stations.json``.

A counter is a monitoring station of kind ``traffic`` (the environment sector's "station" place type): it
counts motorbikes, cars, and buses with trucks, and measures the mean speed. Coordinates are approximate
(placed on the road near the named town). A row holds the :class:`~cityops.specs.StationSpec` fields;
``attributes`` are stored on the station's Thing (the road), ``model`` tunes its simulation (``scale``: the
road's traffic relative to QL1 at Tân An).
"""

from __future__ import annotations

from typing import Any

from cityops.sectors.tables import read_table
from cityops.sectors.traffic.simulation import RoadCounter
from cityops.sectors.traffic.specs import COUNTER_PROPERTIES
from cityops.specs import StationSpec

KIND = "traffic"


def station_specs(rows: list[dict[str, Any]]) -> tuple[StationSpec, ...]:
    """Counter specs from table rows; a misspelt column or model parameter is a TypeError."""
    specs = []
    for row in rows:
        fields = dict(row)
        if fields.get("kind", KIND) != KIND:
            raise ValueError(f"station {fields.get('code')}: a traffic counter has kind {KIND!r}")
        model = RoadCounter(**fields.pop("model", {}))
        specs.append(StationSpec(**{"kind": KIND, **fields}, properties=COUNTER_PROPERTIES, model=model))
    return tuple(specs)


STATIONS: tuple[StationSpec, ...] = station_specs(read_table("cityops.sectors.traffic", "stations.json"))

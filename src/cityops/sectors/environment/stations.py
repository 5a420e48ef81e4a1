"""The pilot's environmental monitoring stations (demo): salinity and water level along the Vàm Cỏ rivers, air
quality in Tân An and Đức Hòa — one row each in ``data/stations.json``.

Coordinates are approximate (placed on the river near the named town); distances to the sea are measured
along the Vàm Cỏ → Soài Rạp channel and are approximate too. Water-level alarm levels I/II/III are demo values
in metres above the Hòn Dấu datum: replace them with the levels the province declares for each station (they
are read from the Thing's ``alarm_levels`` property, so an operator can edit them; see ``data/rules.json``).

A row holds the :class:`~cityops.specs.StationSpec` fields; ``attributes`` are stored on the station's Thing
(river, datum, alarm_levels, distance_to_sea_km); ``also_measures`` adds properties to what the kind
measures (the water-quality probes: pH, dissolved oxygen, turbidity); ``model`` tunes its simulation (tide amplitude and phase); what
a station measures and how it is simulated follow from its ``kind``.
"""

from __future__ import annotations

from typing import Any

from cityops.sectors.environment.simulation import AirStation, RiverStation
from cityops.sectors.tables import read_table
from cityops.specs import StationModel, StationSpec

WATER = ("salinity", "conductivity", "water_level", "water_temperature")
AIR = ("pm25", "pm10", "o3", "no2", "so2", "co")
PROPERTIES_BY_KIND: dict[str, tuple[str, ...]] = {"water": WATER, "air": AIR}


def _model(kind: str, attributes: dict[str, Any], params: dict[str, Any]) -> StationModel:
    if kind == "water":
        return RiverStation(distance_to_sea_km=float(attributes.get("distance_to_sea_km", 0.0)), **params)
    if params:
        raise TypeError(f"an {kind} station takes no model parameters, got {sorted(params)}")
    return AirStation()


def station_specs(rows: list[dict[str, Any]]) -> tuple[StationSpec, ...]:
    """Station specs from table rows; an unknown kind is a KeyError, a misspelt column a TypeError."""
    specs = []
    for row in rows:
        fields = dict(row)
        kind = fields["kind"]
        measures = PROPERTIES_BY_KIND[kind] + tuple(fields.pop("also_measures", ()))
        attributes = dict(fields.pop("attributes", {}))
        model = _model(kind, attributes, dict(fields.pop("model", {})))
        specs.append(StationSpec(**fields, properties=measures, model=model, attributes=attributes))
    return tuple(specs)


STATIONS: tuple[StationSpec, ...] = station_specs(read_table("cityops.sectors.environment", "stations.json"))

BY_CODE = {s.code: s for s in STATIONS}

"""The SensorThings entity types: their properties, navigation properties and JSON rendering.

One :class:`EntityType` per OGC 18-088 entity; the query compiler, the renderer and the write path all
read this registry, so an entity is described once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, select
from sqlalchemy.orm import InstrumentedAttribute

from cityops.sensing.ingest.batch import join_result, result_quality_view
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    HistoricalLocation,
    Location,
    MultiDatastream,
    Observation,
    ObservedProperty,
    Sensor,
    Thing,
    historical_location_locations,
    multi_datastream_observed_properties,
    thing_locations,
)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def interval(start: datetime | None, end: datetime | None) -> str | None:
    if start is None:
        return None
    if end is None or end == start:
        return iso(start)
    return f"{iso(start)}/{iso(end)}"


@dataclass(frozen=True)
class Prop:
    """A property: ``attr`` is the ORM attribute used for filtering and ordering."""

    name: str
    attr: str | None
    kind: str  # string | number | json | datetime | geo | any
    get: Callable[[Any], Any]


@dataclass(frozen=True)
class Nav:
    name: str
    target: str  # entity type name
    many: bool
    fk: str | None = None  # to-one: our attribute holding the target id
    back_fk: str | None = None  # to-many: the target's attribute holding our id
    link: tuple[Table, str, str] | None = None  # link table, column with our id, column with target id

    def condition(self, outer: Any, target: Any) -> ColumnElement[bool]:
        """SQL condition relating an ``outer`` row (class or alias) to a ``target`` row."""
        if self.fk is not None:
            cond: ColumnElement[bool] = target.id == getattr(outer, self.fk)
            return cond
        if self.back_fk is not None:
            cond = getattr(target, self.back_fk) == outer.id
            return cond
        assert self.link is not None
        table, ours, theirs = self.link
        cond = target.id.in_(select(table.c[theirs]).where(table.c[ours] == outer.id).correlate_except(table))
        return cond


@dataclass
class EntityType:
    name: str
    set_name: str
    model: type[Any]
    props: dict[str, Prop] = field(default_factory=dict)
    navs: dict[str, Nav] = field(default_factory=dict)

    def column(self, prop: Prop, alias: Any) -> InstrumentedAttribute[Any]:
        assert prop.attr is not None
        col: InstrumentedAttribute[Any] = getattr(alias, prop.attr)
        return col


def _p(name: str, attr: str | None, kind: str = "string", get: Callable[[Any], Any] | None = None) -> Prop:
    if get is None:
        key = attr or name

        def get(row: Any) -> Any:
            return getattr(row, key)

    return Prop(name, attr, kind, get)


ENTITIES: dict[str, EntityType] = {}
BY_SET: dict[str, EntityType] = {}


def _register(et: EntityType, *navs: Nav) -> None:
    et.props = {"id": _p("id", "id", "number"), **et.props}
    et.navs = {n.name: n for n in navs}
    ENTITIES[et.name] = et
    BY_SET[et.set_name] = et


def _common(*names: str) -> dict[str, Prop]:
    out: dict[str, Prop] = {}
    for n in names:
        if n == "name":
            out[n] = _p("name", "name")
        elif n == "description":
            out[n] = _p("description", "description")
        elif n == "properties":
            out[n] = _p("properties", "properties", "json")
        elif n == "encodingType":
            out[n] = _p("encodingType", "encoding_type")
    return out


_register(
    EntityType("Thing", "Things", Thing, _common("name", "description", "properties")),
    Nav("Locations", "Location", True, link=(thing_locations, "thing_id", "location_id")),
    Nav("HistoricalLocations", "HistoricalLocation", True, back_fk="thing_id"),
    Nav("Datastreams", "Datastream", True, back_fk="thing_id"),
    Nav("MultiDatastreams", "MultiDatastream", True, back_fk="thing_id"),
)
_register(
    EntityType(
        "Location",
        "Locations",
        Location,
        {
            **_common("name", "description", "encodingType", "properties"),
            "location": _p("location", "location", "geo"),
        },
    ),
    Nav("Things", "Thing", True, link=(thing_locations, "location_id", "thing_id")),
    Nav(
        "HistoricalLocations",
        "HistoricalLocation",
        True,
        link=(historical_location_locations, "location_id", "historical_location_id"),
    ),
)
_register(
    EntityType(
        "HistoricalLocation",
        "HistoricalLocations",
        HistoricalLocation,
        {"time": _p("time", "time", "datetime", lambda r: iso(r.time))},
    ),
    Nav("Thing", "Thing", False, fk="thing_id"),
    Nav(
        "Locations",
        "Location",
        True,
        link=(historical_location_locations, "historical_location_id", "location_id"),
    ),
)
_register(
    EntityType(
        "Sensor",
        "Sensors",
        Sensor,
        {
            **_common("name", "description", "encodingType"),
            "metadata": _p("metadata", "sensor_metadata", "any"),
            **_common("properties"),
        },
    ),
    Nav("Datastreams", "Datastream", True, back_fk="sensor_id"),
    Nav("MultiDatastreams", "MultiDatastream", True, back_fk="sensor_id"),
)
_register(
    EntityType(
        "ObservedProperty",
        "ObservedProperties",
        ObservedProperty,
        {
            "name": _p("name", "name"),
            "definition": _p("definition", "definition"),
            "description": _p("description", "description"),
            **_common("properties"),
        },
    ),
    Nav("Datastreams", "Datastream", True, back_fk="observed_property_id"),
    Nav(
        "MultiDatastreams",
        "MultiDatastream",
        True,
        link=(multi_datastream_observed_properties, "observed_property_id", "multi_datastream_id"),
    ),
)


def _time_props() -> dict[str, Prop]:
    return {
        "phenomenonTime": _p(
            "phenomenonTime",
            "phenomenon_time_start",
            "datetime",
            lambda r: interval(r.phenomenon_time_start, r.phenomenon_time_end),
        ),
        "resultTime": _p(
            "resultTime",
            "result_time_start",
            "datetime",
            lambda r: interval(r.result_time_start, r.result_time_end),
        ),
    }


_register(
    EntityType(
        "Datastream",
        "Datastreams",
        Datastream,
        {
            **_common("name", "description"),
            "unitOfMeasurement": _p("unitOfMeasurement", "unit_of_measurement", "json"),
            "observationType": _p("observationType", "observation_type"),
            "observedArea": _p("observedArea", "observed_area", "json"),
            **_time_props(),
            **_common("properties"),
        },
    ),
    Nav("Thing", "Thing", False, fk="thing_id"),
    Nav("Sensor", "Sensor", False, fk="sensor_id"),
    Nav("ObservedProperty", "ObservedProperty", False, fk="observed_property_id"),
    Nav("Observations", "Observation", True, back_fk="datastream_id"),
)
_register(
    EntityType(
        "MultiDatastream",
        "MultiDatastreams",
        MultiDatastream,
        {
            **_common("name", "description"),
            "unitOfMeasurements": _p("unitOfMeasurements", "units_of_measurement", "json"),
            "observationType": _p("observationType", "observation_type"),
            "multiObservationDataTypes": _p(
                "multiObservationDataTypes", "multi_observation_data_types", "json"
            ),
            "observedArea": _p("observedArea", "observed_area", "json"),
            **_time_props(),
            **_common("properties"),
        },
    ),
    Nav("Thing", "Thing", False, fk="thing_id"),
    Nav("Sensor", "Sensor", False, fk="sensor_id"),
    Nav(
        "ObservedProperties",
        "ObservedProperty",
        True,
        link=(multi_datastream_observed_properties, "multi_datastream_id", "observed_property_id"),
    ),
    Nav("Observations", "Observation", True, back_fk="multi_datastream_id"),
)
_register(
    EntityType(
        "FeatureOfInterest",
        "FeaturesOfInterest",
        FeatureOfInterest,
        {
            **_common("name", "description", "encodingType"),
            "feature": _p("feature", "feature", "geo"),
            **_common("properties"),
        },
    ),
    Nav("Observations", "Observation", True, back_fk="feature_of_interest_id"),
)
_register(
    EntityType(
        "Observation",
        "Observations",
        Observation,
        {
            "phenomenonTime": _p(
                "phenomenonTime",
                "phenomenon_time",
                "datetime",
                lambda r: interval(r.phenomenon_time, r.phenomenon_time_end),
            ),
            "resultTime": _p("resultTime", "result_time", "datetime", lambda r: iso(r.result_time)),
            "result": _p(
                "result", "result_number", "number", lambda r: join_result(r.result_number, r.result_json)
            ),
            "resultQuality": _p(
                "resultQuality",
                "result_quality",
                "json",
                lambda r: result_quality_view(r.result_quality, r.quality_flags),
            ),
            "validTime": _p(
                "validTime",
                "valid_time_start",
                "datetime",
                lambda r: interval(r.valid_time_start, r.valid_time_end),
            ),
            "parameters": _p("parameters", "parameters", "json"),
        },
    ),
    Nav("Datastream", "Datastream", False, fk="datastream_id"),
    Nav("MultiDatastream", "MultiDatastream", False, fk="multi_datastream_id"),
    Nav("FeatureOfInterest", "FeatureOfInterest", False, fk="feature_of_interest_id"),
)

# Properties the service never lets a client omit on create (OGC 18-088 tables, "multiplicity 1").
REQUIRED: dict[str, tuple[str, ...]] = {
    "Thing": ("name", "description"),
    "Location": ("name", "description", "encodingType", "location"),
    "HistoricalLocation": ("time",),
    "Sensor": ("name", "description", "encodingType", "metadata"),
    "ObservedProperty": ("name", "definition", "description"),
    "Datastream": ("name", "description", "unitOfMeasurement", "observationType"),
    "MultiDatastream": ("name", "description", "unitOfMeasurements", "multiObservationDataTypes"),
    "FeatureOfInterest": ("name", "description", "encodingType", "feature"),
    "Observation": ("result",),
}

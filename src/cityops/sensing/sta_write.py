"""SensorThings writes: create with deep insert, PATCH (merge and JSON-patch), PUT and DELETE.

Deep insert (OGC 18-088 §10.2): related entities in the body are created, or linked when given as
``{"@iot.id": n}``. Linking a Thing to Locations records a HistoricalLocation. Observations go through
:func:`cityops.sensing.storage.ingest_observations`, so they are deduplicated on (datastream, phenomenon
time) and update roll-ups and latest values; an Observation without a FeatureOfInterest gets the one
generated from its Thing's Location. Every write is checked by ``check(thing_id)`` (the caller's policy).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cityops.audit import service as audit
from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
from cityops.sensing.ingest.batch import split_result
from cityops.sensing.ingest.rollups import refresh_after_change
from cityops.sensing.ingest.write import generated_feature_id
from cityops.sensing.models import (
    Datastream,
    FeatureOfInterest,
    HistoricalLocation,
    Location,
    MultiDatastream,
    Observation,
    ObservedProperty,
    historical_location_locations,
    multi_datastream_observed_properties,
    thing_locations,
)
from cityops.sensing.odata import ODataError, parse_datetime
from cityops.sensing.sta_entities import ENTITIES, REQUIRED, EntityType, Nav
from cityops.sensing.sta_results import check_result, conflict_error, conflicts
from cityops.text import nfc

Check = Callable[[int | None], None]


def bad(message: str) -> ApiError:
    return ApiError(400, message, code="bad_request")


# --- value validation ------------------------------------------------------------------------


def _str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    return nfc(value)


def _obj(name: str, value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise bad(f"{name} must be a JSON object")
    return value


def _json(name: str, value: Any) -> Any:
    return value


def _geojson(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or "type" not in value:
        raise bad(f"{name} must be a GeoJSON object")
    return value


def _uom(name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{name} must be an object with name, symbol and definition")
    return value


def _list(name: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise bad(f"{name} must be an array")
    return value


def representative_point(geo: dict[str, Any] | None) -> tuple[float | None, float | None]:
    """(lat, lon) of a GeoJSON geometry or feature: the point itself or the centroid."""
    if not geo:
        return None, None
    from shapely.geometry import shape

    g = geo.get("geometry") if geo.get("type") == "Feature" else geo
    try:
        s = shape(g)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise bad(f"invalid GeoJSON geometry: {exc}") from exc
    if s.is_empty:
        return None, None
    p = s if s.geom_type == "Point" else s.centroid
    return float(p.y), float(p.x)


def time_range(name: str, value: Any, *, allow_null: bool = True) -> tuple[datetime | None, datetime | None]:
    if value is None:
        if allow_null:
            return None, None
        raise bad(f"{name} must not be null")
    if not isinstance(value, str):
        raise bad(f"{name} must be an ISO 8601 time or interval string")
    try:
        if "/" in value:
            a, b = value.split("/", 1)
            start, end = parse_datetime(a), parse_datetime(b)
            if end < start:
                raise bad(f"{name}: the interval ends before it starts")
            return start, end
        return parse_datetime(value), None
    except ODataError as exc:
        raise bad(f"{name}: {exc}") from exc


# sta name -> (attribute, validator) per entity
FIELDS: dict[str, dict[str, tuple[str, Callable[[str, Any], Any]]]] = {
    "Thing": {
        "name": ("name", _str),
        "description": ("description", _str),
        "properties": ("properties", _obj),
    },
    "Location": {
        "name": ("name", _str),
        "description": ("description", _str),
        "encodingType": ("encoding_type", _str),
        "location": ("location", _geojson),
        "properties": ("properties", _obj),
    },
    "HistoricalLocation": {},
    "Sensor": {
        "name": ("name", _str),
        "description": ("description", _str),
        "encodingType": ("encoding_type", _str),
        "metadata": ("sensor_metadata", _json),
        "properties": ("properties", _obj),
    },
    "ObservedProperty": {
        "name": ("name", _str),
        "definition": ("definition", _str),
        "description": ("description", _str),
        "properties": ("properties", _obj),
    },
    "Datastream": {
        "name": ("name", _str),
        "description": ("description", _str),
        "unitOfMeasurement": ("unit_of_measurement", _uom),
        "observationType": ("observation_type", _str),
        "observedArea": ("observed_area", _obj),
        "properties": ("properties", _obj),
    },
    "MultiDatastream": {
        "name": ("name", _str),
        "description": ("description", _str),
        "unitOfMeasurements": ("units_of_measurement", _list),
        "observationType": ("observation_type", _str),
        "multiObservationDataTypes": ("multi_observation_data_types", _list),
        "observedArea": ("observed_area", _obj),
        "properties": ("properties", _obj),
    },
    "FeatureOfInterest": {
        "name": ("name", _str),
        "description": ("description", _str),
        "encodingType": ("encoding_type", _str),
        "feature": ("feature", _geojson),
        "properties": ("properties", _obj),
    },
}
# Server-maintained, accepted and ignored on input.
REQUIRED_NAVS = {
    "Datastream": {"Thing", "Sensor", "ObservedProperty"},
    "MultiDatastream": {"Thing", "Sensor"},
    "HistoricalLocation": {"Thing"},
}
READ_ONLY = {"@iot.selfLink", "phenomenonTime", "resultTime"}
# Entities whose deletion deletes stored Observations with them (only SENSING_MANAGE may).
HOLDS_OBSERVATIONS = {"Thing", "Datastream", "MultiDatastream", "FeatureOfInterest"}
FEATURE_LOCK_SPACE = 0x53_54_41  # "STA": the first key of the advisory locks on feature generation
UCUM_RE = re.compile(r"^(?:ucum:|http://unitsofmeasure\.org/ucum\.html#para-\d+)?(.+)$")


class Writer:
    """Validates and applies STA writes. ``check(thing_id)`` decides whether the caller may add to a Thing;
    ``correct()`` whether it may change or delete stored Observations (#21: an ingest key may only add:
    a device that could rewrite its station's history could hide what it measured). Every change or delete
    of a stored Observation is audited for ``principal`` (None: the system)."""

    def __init__(
        self, session: Session, check: Check, correct: Callable[[], None] | None = None, principal: Any = None
    ) -> None:
        self.session = session
        self.check = check
        self.correct = correct or (lambda: None)
        self.principal = principal

    # --- create -----------------------------------------------------------------------------

    def create(self, et: EntityType, data: Any, preset: dict[str, Any] | None = None) -> Any:
        """Create ``et`` from ``data`` (deep insert); ``preset`` holds attributes set by a parent."""
        if not isinstance(data, dict):
            raise bad(f"a {et.name} must be a JSON object")
        if "@iot.id" in data:
            return self.reference(et, data)
        if et.name == "Observation":
            return self.create_observation(data, preset or {})
        self.check(None)
        fields = FIELDS[et.name]
        values: dict[str, Any] = dict(preset or {})
        later: list[tuple[Nav, Any]] = []
        for key, value in data.items():
            if key in fields:
                attr, validate = fields[key]
                values[attr] = validate(key, value)
            elif key in et.navs:
                nav = et.navs[key]
                if nav.fk is not None:
                    target = self.create(ENTITIES[nav.target], value)
                    values[nav.fk] = target.id
                else:
                    later.append((nav, _list(key, value)))
            elif key == "time" and et.name == "HistoricalLocation":
                values["time"] = time_range("time", value, allow_null=False)[0]
            elif key not in READ_ONLY:
                raise bad(f"{et.name} has no property {key!r}")
        missing = [
            p for p in REQUIRED[et.name] if p not in data and FIELDS[et.name].get(p, (p,))[0] not in values
        ]
        if missing:
            raise bad(f"{et.name} is missing {', '.join(missing)}")
        for nav in et.navs.values():
            if nav.fk is not None and values.get(nav.fk) is None and self._fk_required(et, nav):
                raise bad(f"{et.name} needs a {nav.name}")
        if et.name == "MultiDatastream":
            values.setdefault(
                "observation_type",
                "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
            )
            ops = next((v for n, v in later if n.name == "ObservedProperties"), None)
            n_types = len(values["multi_observation_data_types"])
            if len(values["units_of_measurement"]) != n_types or ops is None or len(ops) != n_types:
                raise bad(
                    "a MultiDatastream needs as many ObservedProperties and unitOfMeasurements "
                    "as multiObservationDataTypes"
                )
        if et.name in {"Location", "FeatureOfInterest"}:
            geo = values.get("location" if et.name == "Location" else "feature")
            values["lat"], values["lon"] = representative_point(geo)
        row = et.model(**values)
        self.session.add(row)
        self.session.flush()
        if et.name == "Datastream":
            prop = self.session.get(ObservedProperty, row.observed_property_id)
            if prop is not None and prop.ucum is None:
                prop.ucum = ucum_code(row.unit_of_measurement)
        for nav, items in later:
            self.link_many(et, row, nav, items)
        if et.name == "Thing" and any(n.name == "Locations" for n, _ in later):
            self.record_location_change(row.id)
        return row

    def _fk_required(self, et: EntityType, nav: Nav) -> bool:
        return nav.name in REQUIRED_NAVS.get(et.name, set())

    def reference(self, et: EntityType, data: dict[str, Any]) -> Any:
        ident = data.get("@iot.id")
        if not isinstance(ident, int) or isinstance(ident, bool):
            raise bad(f"@iot.id of a {et.name} must be an integer")
        row = self.session.get(et.model, ident)
        if row is None:
            raise bad(f"no {et.name} with @iot.id {ident}")
        return row

    def link_many(self, et: EntityType, row: Any, nav: Nav, items: list[Any]) -> None:
        target = ENTITIES[nav.target]
        if target.name == "Observation":
            self.create_observations_for(et, row, items)
            return
        for item in items:
            if nav.back_fk is not None:
                if isinstance(item, dict) and "@iot.id" in item:
                    child = self.reference(target, item)
                    setattr(child, nav.back_fk, row.id)
                else:
                    self.create(target, item, {nav.back_fk: row.id})
            else:
                child = self.create(target, item)
                self.add_link(nav, row.id, child.id, rank=items.index(item))
        self.session.flush()

    def add_link(self, nav: Nav, our_id: int, their_id: int, rank: int = 0) -> None:
        assert nav.link is not None
        table, ours, theirs = nav.link
        if table is thing_locations and ours == "thing_id":
            self.session.execute(insert(table).values(thing_id=our_id, location_id=their_id))
        elif table is thing_locations:
            self.session.execute(insert(table).values(thing_id=their_id, location_id=our_id))
            self.record_location_change(their_id)
        elif table is multi_datastream_observed_properties:
            self.session.execute(insert(table).values({ours: our_id, theirs: their_id, "rank": rank}))
        else:
            self.session.execute(insert(table).values({ours: our_id, theirs: their_id}))

    def record_location_change(self, thing_id: int) -> None:
        """A new HistoricalLocation holding the Thing's current Locations."""
        hl = HistoricalLocation(thing_id=thing_id, time=utcnow())
        self.session.add(hl)
        self.session.flush()
        loc_ids = self.session.execute(
            select(thing_locations.c.location_id).where(thing_locations.c.thing_id == thing_id)
        ).scalars()
        for loc_id in loc_ids:
            self.session.execute(
                insert(historical_location_locations).values(historical_location_id=hl.id, location_id=loc_id)
            )

    # --- observations -----------------------------------------------------------------------

    def observation_in(
        self, data: dict[str, Any], preset: dict[str, Any]
    ) -> tuple[ObservationIn | None, dict[str, Any]]:
        """Validate an Observation body; returns the store row, or (None, values) for a MultiDatastream one."""
        allowed = {
            "phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters",
            "Datastream", "MultiDatastream", "FeatureOfInterest", "@iot.selfLink",
        }  # fmt: skip
        for key in data:
            if key not in allowed:
                raise bad(f"Observation has no property {key!r}")
        if "result" not in data:
            raise bad("Observation is missing result")
        ds_id = preset.get("datastream_id")
        mds_id = preset.get("multi_datastream_id")
        if "Datastream" in data:
            ds_id = self.reference(ENTITIES["Datastream"], _ref(data["Datastream"], "Datastream")).id
        if "MultiDatastream" in data:
            mds_id = self.reference(
                ENTITIES["MultiDatastream"], _ref(data["MultiDatastream"], "MultiDatastream")
            ).id
        if (ds_id is None) == (mds_id is None):
            raise bad("an Observation needs exactly one of Datastream or MultiDatastream")
        pt_start, pt_end = time_range("phenomenonTime", data.get("phenomenonTime"))
        if pt_start is None:
            pt_start = utcnow()
        result_time = time_range("resultTime", data.get("resultTime"))[0]
        valid = time_range("validTime", data.get("validTime"))
        params = _obj("parameters", data.get("parameters"))
        foi_id = preset.get("feature_of_interest_id")
        if "FeatureOfInterest" in data:
            foi_id = self.create(ENTITIES["FeatureOfInterest"], data["FeatureOfInterest"]).id
        owner: Datastream | MultiDatastream | None = (
            self.session.get(Datastream, ds_id)
            if ds_id is not None
            else self.session.get(MultiDatastream, mds_id)
        )
        assert owner is not None
        self.check(owner.thing_id)
        if foi_id is None:
            self.hold_feature_generation(owner.thing_id)
        values = {
            "phenomenon_time": pt_start,
            "phenomenon_time_end": pt_end,
            "result_time": result_time,
            "result_quality": data.get("resultQuality"),
            "valid_time_start": valid[0],
            "valid_time_end": valid[1],
            "parameters": params,
            "feature_of_interest_id": foi_id,
        }
        if isinstance(owner, MultiDatastream):
            result = data["result"]
            n = len(owner.multi_observation_data_types)
            if not isinstance(result, list) or len(result) != n:
                raise bad(f"the result of a MultiDatastream Observation must be an array of {n} values")
            for i, (kind, value) in enumerate(zip(owner.multi_observation_data_types, result, strict=True)):
                check_result(kind, value, f"result[{i}]: ")
            if foi_id is None:
                values["feature_of_interest_id"] = self._mds_feature(owner)
            values.update(multi_datastream_id=mds_id, result_json=result)
            return None, values
        check_result(owner.observation_type, data["result"])
        return (
            ObservationIn(
                datastream_id=owner.id,
                phenomenon_time=pt_start,
                result=data["result"],
                phenomenon_time_end=pt_end,
                result_time=result_time,
                result_quality=data.get("resultQuality"),
                valid_time_start=valid[0],
                valid_time_end=valid[1],
                parameters=params,
                feature_of_interest_id=foi_id,
            ),
            values,
        )

    def hold_feature_generation(self, thing_id: int) -> None:
        """Take the turn to generate the FeatureOfInterest of ``thing_id``'s Location before looking for it.

        Without it two first Observations of a station written at once both find no feature and both
        generate one. On PostgreSQL a transaction-scoped advisory lock per Thing makes the second wait
        until the first commits, and its lookup (a later statement under READ COMMITTED) then finds that
        feature; on SQLite the write transaction starts here (``BEGIN IMMEDIATE``), so the lookup runs
        holding the database's one write lock.
        """
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(FEATURE_LOCK_SPACE, thing_id)))
            return
        dbapi_conn = conn.connection.dbapi_connection
        if dbapi_conn is not None and not dbapi_conn.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def hold_references(self, values: dict[str, Any]) -> None:
        """Lock the Datastream, MultiDatastream and FeatureOfInterest an Observation row will reference.

        On PostgreSQL ``sta_observations`` has no foreign keys (see :mod:`cityops.sensing.partitioning`):
        this takes the ``FOR KEY SHARE`` lock their check took, so a concurrent delete of one of them waits
        for this transaction and its trigger then deletes this Observation too; one deleted meanwhile is
        the same 400 as one that never existed. SQLite keeps the foreign keys, so nothing to do there.
        Rows going through :func:`ingest_observations` are locked there instead.
        """
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for name, attr in (
            ("Datastream", "datastream_id"),
            ("MultiDatastream", "multi_datastream_id"),
            ("FeatureOfInterest", "feature_of_interest_id"),
        ):
            ident = values.get(attr)
            if ident is None:
                continue
            model = ENTITIES[name].model
            found = self.session.scalar(
                select(model.id).where(model.id == ident).with_for_update(read=True, key_share=True)
            )
            if found is None:
                raise bad(f"no {name} with @iot.id {ident}")

    def _mds_feature(self, mds: MultiDatastream) -> int | None:
        any_ds = self.session.execute(
            select(Datastream.id).where(Datastream.thing_id == mds.thing_id).limit(1)
        ).scalar_one_or_none()
        if any_ds is not None:
            return generated_feature_id(self.session, any_ds)
        loc = self.session.execute(
            select(Location)
            .join(thing_locations, thing_locations.c.location_id == Location.id)
            .where(thing_locations.c.thing_id == mds.thing_id)
            .limit(1)
        ).scalar_one_or_none()
        if loc is None:
            return None
        foi = FeatureOfInterest(
            name=loc.name,
            description=loc.description,
            encoding_type=loc.encoding_type,
            feature=loc.location,
            lat=loc.lat,
            lon=loc.lon,
            source_location_id=loc.id,
        )
        self.session.add(foi)
        self.session.flush()
        return foi.id

    def create_observation(self, data: dict[str, Any], preset: dict[str, Any]) -> Observation:
        row_in, values = self.observation_in(data, preset)
        if row_in is None:
            self.hold_references(values)
            obs = Observation(**values)
            self.session.add(obs)
            self.session.flush()
            return obs
        try:
            result = ingest_observations(self.session, [row_in])
        except IngestError as exc:
            raise bad(exc.message) from exc
        if conflicts(self.session, [row_in.result], result.ids, result.duplicate_indexes):
            raise conflict_error()
        obs_row = self.session.get(Observation, result.ids[0])
        assert obs_row is not None
        return obs_row

    def create_observations_for(self, et: EntityType, row: Any, items: list[Any]) -> None:
        key = {"Datastream": "datastream_id", "MultiDatastream": "multi_datastream_id"}.get(et.name)
        preset = {key: row.id} if key else {"feature_of_interest_id": row.id}
        batch: list[ObservationIn] = []
        for item in items:
            if not isinstance(item, dict):
                raise bad("an Observation must be a JSON object")
            row_in, values = self.observation_in(item, preset)
            if row_in is None:
                self.hold_references(values)
                self.session.add(Observation(**values))
            else:
                batch.append(row_in)
        if batch:
            done = ingest_observations(self.session, batch)
            clash = conflicts(self.session, [r.result for r in batch], done.ids, done.duplicate_indexes)
            if clash:
                raise conflict_error(clash)

    # --- update -----------------------------------------------------------------------------

    def update(self, et: EntityType, row: Any, data: Any, *, replace: bool = False) -> Any:
        if not isinstance(data, dict):
            raise bad("the body must be a JSON object")
        if et.name == "Observation":
            return self.update_observation(row, data, replace=replace)
        self.check(None)
        fields = FIELDS[et.name]
        if replace:
            missing = [p for p in REQUIRED[et.name] if p not in data]
            if missing:
                raise bad(f"PUT needs every mandatory property; missing {', '.join(missing)}")
            for key in ("properties", "observedArea"):
                if key in fields and key not in data:
                    setattr(row, fields[key][0], None)
        for key, value in data.items():
            if key in {"@iot.id", "id"}:
                if value != row.id:
                    raise bad("@iot.id cannot be changed")
            elif key in fields:
                attr, validate = fields[key]
                setattr(row, attr, validate(key, value))
            elif key == "time" and et.name == "HistoricalLocation":
                row.time = time_range("time", value, allow_null=False)[0]
            elif key in et.navs:
                nav = et.navs[key]
                items = [value] if nav.fk is not None else _list(key, value)
                for item in items:
                    _only_reference(et, key, item)
                if nav.fk is not None:
                    setattr(row, nav.fk, self.reference(ENTITIES[nav.target], value).id)
                elif et.name == "Thing" and key == "Locations":
                    self.session.execute(delete(thing_locations).where(thing_locations.c.thing_id == row.id))
                    for item in items:
                        loc = self.reference(ENTITIES["Location"], item)
                        self.session.execute(
                            insert(thing_locations).values(thing_id=row.id, location_id=loc.id)
                        )
                    self.record_location_change(row.id)
                else:
                    self.link_many(et, row, nav, items)
            elif key not in READ_ONLY:
                raise bad(f"{et.name} has no property {key!r}")
        if et.name in {"Location", "FeatureOfInterest"}:
            row.lat, row.lon = representative_point(row.location if et.name == "Location" else row.feature)
        self.session.flush()
        return row

    def update_observation(self, row: Observation, data: dict[str, Any], *, replace: bool) -> Observation:
        self.correct()
        if replace and "result" not in data:
            raise bad("PUT needs every mandatory property; missing result")
        old_time, old_ds = row.phenomenon_time, row.datastream_id
        before = _observation_snapshot(row)
        merged: dict[str, Any] = {}
        if not replace:
            merged.update(
                {
                    "phenomenonTime": _interval_text(row.phenomenon_time, row.phenomenon_time_end),
                    "result": row.result_json if row.result_number is None else row.result_number,
                    "resultTime": _interval_text(row.result_time, None),
                    "resultQuality": row.result_quality,
                    "validTime": _interval_text(row.valid_time_start, row.valid_time_end),
                    "parameters": row.parameters,
                }
            )
        for key in ("Datastream", "MultiDatastream", "FeatureOfInterest"):
            if key in data:
                _only_reference(ENTITIES["Observation"], key, data[key])
        merged.update({k: v for k, v in data.items() if k not in {"@iot.id", "id"}})
        preset: dict[str, Any] = {"feature_of_interest_id": row.feature_of_interest_id}
        if "Datastream" not in merged and "MultiDatastream" not in merged:
            preset["datastream_id"] = row.datastream_id
            preset["multi_datastream_id"] = row.multi_datastream_id
        row_in, values = self.observation_in(merged, preset)
        if row_in is not None:
            values["datastream_id"] = row_in.datastream_id
            values["multi_datastream_id"] = None
            values["result_number"], values["result_json"] = split_result(row_in.result)
        if values.get("datastream_id") is not None:
            clash = self.session.execute(
                select(Observation.id).where(
                    Observation.datastream_id == values["datastream_id"],
                    Observation.phenomenon_time == values["phenomenon_time"],
                    Observation.id != row.id,
                )
            ).first()
            if clash is not None:
                raise ApiError(
                    409, "another Observation of this Datastream has that phenomenonTime", code="conflict"
                )
        self.hold_references(values)
        for attr, value in values.items():
            setattr(row, attr, value)
        self.session.flush()
        if old_ds is not None:
            refresh_after_change(self.session, old_ds, [old_time])
        if row.datastream_id is not None:
            refresh_after_change(self.session, row.datastream_id, [row.phenomenon_time])
        audit.record(
            self.session, self.principal, "observation.update", "observation", row.id, before,
            _observation_snapshot(row),
        )  # fmt: skip
        return row

    def json_patch(self, et: EntityType, row: Any, ops: Any, current: dict[str, Any]) -> Any:
        patched = apply_json_patch(current, ops)
        changes = {k: v for k, v in patched.items() if current.get(k) != v}
        for k in current:
            if k not in patched:
                changes[k] = None
        return self.update(et, row, changes)

    # --- delete -----------------------------------------------------------------------------

    def delete(self, et: EntityType, row: Any) -> None:
        if et.name == "Observation":
            self.correct()
            when, ds_id = row.phenomenon_time, row.datastream_id
            audit.record(
                self.session, self.principal, "observation.delete", "observation", row.id,
                _observation_snapshot(row),
            )  # fmt: skip
            self.session.execute(delete(Observation).where(Observation.id == row.id))
            if ds_id is not None:
                refresh_after_change(self.session, ds_id, [when])
            return
        self.check(None)
        if et.name in HOLDS_OBSERVATIONS:
            self.correct()  # deleting it deletes its stored Observations too
        audit.record(
            self.session, self.principal, f"sta.{et.name.lower()}.delete", f"sta.{et.name.lower()}", row.id
        )
        affected: list[int] = []
        if et.name == "FeatureOfInterest":
            affected = [
                int(i)
                for i in self.session.execute(
                    select(Observation.datastream_id)
                    .where(
                        Observation.feature_of_interest_id == row.id, Observation.datastream_id.is_not(None)
                    )
                    .distinct()
                ).scalars()
                if i is not None
            ]
        self.session.execute(delete(et.model).where(et.model.id == row.id))
        self.session.expunge(row)
        if et.name == "Location":
            # HistoricalLocations left without any Location are deleted with it (OGC 18-088 §10.4).
            orphan = select(historical_location_locations.c.historical_location_id)
            self.session.execute(delete(HistoricalLocation).where(HistoricalLocation.id.not_in(orphan)))
        for ds_id in affected:
            from cityops.sensing.ingest.rollups import rebuild_rollups

            rebuild_rollups(self.session, ds_id)


def _observation_snapshot(row: Observation) -> dict[str, Any]:
    """What the audit log keeps of a stored Observation (before/after a change)."""
    return {
        "datastream_id": row.datastream_id,
        "multi_datastream_id": row.multi_datastream_id,
        "phenomenon_time": _interval_text(row.phenomenon_time, row.phenomenon_time_end),
        "result": row.result_json if row.result_number is None else row.result_number,
        "result_time": _interval_text(row.result_time, None),
        "result_quality": row.result_quality,
        "feature_of_interest_id": row.feature_of_interest_id,
    }


def _only_reference(et: EntityType, key: str, item: Any) -> None:
    """An update links existing entities only (OGC 18-088 §10.3.1): ``{"@iot.id": n}``, nothing inline."""
    if not isinstance(item, dict) or set(item) != {"@iot.id"}:
        raise bad(
            f"an update of a {et.name} may only link existing {key} by @iot.id; create new ones with POST"
        )


def _ref(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad(f"{name} must be an object with @iot.id")
    return value


def _interval_text(start: datetime | None, end: datetime | None) -> str | None:
    from cityops.sensing.sta_entities import interval

    return interval(start, end)


# --- JSON Patch (RFC 6902) -------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    cur = doc
    for p in parts[:-1]:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise bad(f"JSON patch path segment {p!r} does not exist")
    if not parts:
        raise bad("JSON patch cannot replace the whole entity")
    return cur, parts[-1]


def _get(doc: Any, parts: list[str]) -> Any:
    parent, key = _parent(doc, parts)
    if isinstance(parent, dict) and key in parent:
        return parent[key]
    if isinstance(parent, list) and key.isdigit() and int(key) < len(parent):
        return parent[int(key)]
    raise bad(f"JSON patch path /{'/'.join(parts)} does not exist")


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, key = _parent(doc, parts)
    value = _get(doc, parts)
    if isinstance(parent, dict):
        del parent[key]
    else:
        del parent[int(key)]
    return value


def _add(doc: Any, parts: list[str], value: Any) -> None:
    parent, key = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[key] = value
    elif isinstance(parent, list):
        if key == "-":
            parent.append(value)
        elif key.isdigit() and int(key) <= len(parent):
            parent.insert(int(key), value)
        else:
            raise bad(f"JSON patch index {key!r} out of range")
    else:
        raise bad("JSON patch target is not a container")


def apply_json_patch(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list):
        raise bad("a JSON patch must be an array of operations")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise bad("each JSON patch operation needs op and path")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            _add(out, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(out, parts)
        elif kind == "replace":
            _get(out, parts)
            parent, key = _parent(out, parts)
            if isinstance(parent, list):
                parent[int(key)] = copy.deepcopy(op.get("value"))
            else:
                parent[key] = copy.deepcopy(op.get("value"))
        elif kind in {"move", "copy"}:
            if "from" not in op:
                raise bad(f"JSON patch {kind} needs from")
            source = _pointer(op["from"])
            value = _remove(out, source) if kind == "move" else copy.deepcopy(_get(out, source))
            _add(out, parts, value)
        elif kind == "test":
            if _get(out, parts) != op.get("value"):
                raise bad(f"JSON patch test failed at {op['path']}")
        else:
            raise bad(f"unknown JSON patch op {kind!r}")
    return out


def ucum_code(unit: dict[str, Any]) -> str | None:
    """The UCUM code in a unitOfMeasurement definition (``ucum:g/L`` or the UCUM page URL), else None."""
    definition = unit.get("definition")
    if isinstance(definition, str) and (definition.startswith("ucum:") or "unitsofmeasure.org" in definition):
        m = UCUM_RE.match(definition)
        code = m.group(1) if m else None
        return (
            code
            if code and "#" not in code
            else unit.get("symbol")
            if isinstance(unit.get("symbol"), str)
            else None
        )
    return None

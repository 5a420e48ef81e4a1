"""FROST-Server's ``$resultFormat`` extensions: GeoJSON and CSV.

GeoJSON (https://fraunhoferiosb.github.io/FROST-Server/extensions/GeoJSON-ResultFormat.html): a
FeatureCollection with one Feature per entity (also for a single entity). Each entity, with what it
expands, is flattened into the Feature's ``properties`` under JSON-path names (``properties/river``,
``Thing/name``, ``Observations/0/result``; ``@iot.id`` becomes ``id``, links are left out). The geometry is
the first geometry found in the entity, then in its expands: a Location's ``location``, a
FeatureOfInterest's ``feature``, a Datastream's ``observedArea``. So Things get one by expanding
``Locations`` and Observations by expanding ``FeatureOfInterest``; an entity with none has ``null``.

CSV (https://github.com/INSIDE-information-systems/SensorThingsAPI/blob/master/CSV-ResultFormat/CSV-ResultFormat.md):
RFC 4180, a header row of the selected properties (all of the type's without ``$select``), one row per
entity. ``unitOfMeasurement`` is split into ``unitOfMeasurement/name``, ``/symbol`` and ``/definition``;
other structured values (``properties``, ``parameters``, geometries, arrays) are JSON text. Expanded
entities add their columns prefixed with the navigation property (``Datastream/name``); a to-many expand
must be cut to one entity with ``$top=1`` (otherwise 400, as the extension requires: its rows could not be
paged). Navigation links and ``@iot.selfLink`` are left out.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from cityops.sensing.odata import ExpandItem, ODataError, QueryOptions
from cityops.sensing.sta_entities import ENTITIES, EntityType
from cityops.sensing.sta_query import Context
from cityops.sensing.sta_render import render

GEOMETRY_PROPS = {"Location": "location", "FeatureOfInterest": "feature", "Datastream": "observedArea",
                  "MultiDatastream": "observedArea"}  # fmt: skip
SPLIT_PROPS = {"unitOfMeasurement": ("name", "symbol", "definition")}


# --- GeoJSON ---------------------------------------------------------------------------------


def geojson(ctx: Context, et: EntityType, rows: list[Any], opts: QueryOptions) -> dict[str, Any]:
    features = []
    for row in rows:
        props: dict[str, Any] = {}
        found: list[Any] = []
        _flatten_entity(et, render(ctx, et, row, opts), "", props, found)
        features.append({"type": "Feature", "properties": props, "geometry": found[0] if found else None})
    return {"type": "FeatureCollection", "features": features}


def _flatten_entity(
    et: EntityType, doc: dict[str, Any], prefix: str, out: dict[str, Any], found: list[Any]
) -> None:
    geometry_prop = GEOMETRY_PROPS.get(et.name)
    for key, value in doc.items():
        if key == "@iot.id":
            out[f"{prefix}id"] = value
            continue
        if "@iot." in key:  # selfLink, navigationLink, count, nextLink
            continue
        nav = et.navs.get(key)
        if nav is not None:
            target = ENTITIES[nav.target]
            if isinstance(value, dict):
                _flatten_entity(target, value, f"{prefix}{key}/", out, found)
            elif isinstance(value, list):
                for i, child in enumerate(value):
                    _flatten_entity(target, child, f"{prefix}{key}/{i}/", out, found)
            continue
        if key == geometry_prop and isinstance(value, dict):
            if not found:
                found.append(value.get("geometry") if value.get("type") == "Feature" else value)
            continue
        _flatten_value(value, f"{prefix}{key}", out)


def _flatten_value(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten_value(v, f"{path}/{k}", out)
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            _flatten_value(v, f"{path}/{i}", out)
    else:
        out[path] = value


# --- CSV -------------------------------------------------------------------------------------


def check_csv_expands(et: EntityType, opts: QueryOptions) -> None:
    """400 (via :class:`ODataError`) for a to-many expand that could give more than one entity."""
    for item in opts.expand:
        nav = et.navs.get(item.path[0])
        if nav is None:
            continue  # rendering reports the unknown name
        if nav.many and item.options.top != 1:
            raise ODataError(
                f"$resultFormat=CSV: expand {nav.name} with $top=1 (a to-many expand cannot be flattened "
                "into one row; query the other side and expand the relation from there instead)"
            )
        check_csv_expands(ENTITIES[nav.target], item.options)


def csv_text(ctx: Context, et: EntityType, rows: list[Any], opts: QueryOptions) -> str:
    check_csv_expands(et, opts)
    columns = _columns(et, opts, "")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([name for name, _getter in columns])
    for row in rows:
        doc = render(ctx, et, row, opts)
        writer.writerow([_cell(getter(doc)) for _name, getter in columns])
    return buf.getvalue()


Getter = Any  # Callable[[dict[str, Any] | None], Any]


def _columns(et: EntityType, opts: QueryOptions, prefix: str) -> list[tuple[str, Getter]]:
    names = opts.select or list(et.props)
    out: list[tuple[str, Getter]] = []
    for name in names:
        if name in {"id", "@iot.id"}:
            out.append((f"{prefix}id", _key("@iot.id")))
        elif name in SPLIT_PROPS:
            for part in SPLIT_PROPS[name]:
                out.append((f"{prefix}{name}/{part}", _part(name, part)))
        elif name in et.props:
            out.append((f"{prefix}{name}", _key(name)))
        # navigation properties and @iot.selfLink have no column
    for item in opts.expand:
        out.extend(_expand_columns(et, item, prefix))
    return out


def _expand_columns(et: EntityType, item: ExpandItem, prefix: str) -> list[tuple[str, Getter]]:
    nav = et.navs[item.path[0]]
    inner = _columns(ENTITIES[nav.target], item.options, f"{prefix}{nav.name}/")
    return [(name, _through(nav.name, getter)) for name, getter in inner]


def _key(name: str) -> Getter:
    return lambda doc: None if doc is None else doc.get(name)


def _part(name: str, part: str) -> Getter:
    def get(doc: dict[str, Any] | None) -> Any:
        value = None if doc is None else doc.get(name)
        return value.get(part) if isinstance(value, dict) else None

    return get


def _through(nav: str, getter: Getter) -> Getter:
    def get(doc: dict[str, Any] | None) -> Any:
        child = None if doc is None else doc.get(nav)
        if isinstance(child, list):
            child = child[0] if child else None
        return getter(child)

    return get


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()

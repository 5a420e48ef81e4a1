"""OGC SensorThings API 1.1 (OGC 18-088) at ``/sta/v1.1``.

Resource paths (``Things(1)/Datastreams``, ``Datastreams(1)/Thing/name/$value``, ``.../$ref``), query
options, deep insert, PATCH (merge, or RFC 6902 with ``Content-Type: application/json-patch+json``), PUT,
DELETE, ``CreateObservations`` (data arrays), ``$resultFormat`` ``dataArray`` and FROST's ``GeoJSON`` and
``CSV`` (:mod:`cityops.sensing.sta_formats`), batch requests at ``$batch`` (:mod:`cityops.sensing.sta_batch`)
and ``Idempotency-Key`` on POST (:mod:`cityops.sensing.sta_idempotency`); see ``docs/sta.md``. Errors use
the OData shape ``{"error": {"code", "message"}}``. Reads are public; writes need an API key with scope
``ingest`` (a key bound to one Thing may only add Observations to that Thing's Datastreams) or an
operator/admin.

Each route is a thin wrapper: the work is in session-level functions (``read_resource``,
``create_resource``, ``update_resource``, ``delete_resource``) that do not commit, so ``$batch`` runs the
same code inside its change sets.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from starlette.responses import Response

from cityops.deps import SessionDep, SettingsDep
from cityops.errors import ApiError, NotFound, Unauthorized
from cityops.sensing import sta_formats, sta_idempotency
from cityops.sensing.data_array import COMPONENTS, DataArrayBatch
from cityops.sensing.ingest import IngestError, ingest_columns
from cityops.sensing.ingest.batch import ObservationColumns, time_text
from cityops.sensing.ingest.group import Clash, Outcome, ingest_grouped
from cityops.sensing.models import Datastream, FeatureOfInterest, thing_locations
from cityops.sensing.odata import ODataError, QueryOptions, parse_options
from cityops.sensing.sta_entities import BY_SET, ENTITIES, EntityType, Nav
from cityops.sensing.sta_expand import prefetch
from cityops.sensing.sta_query import Context, QueryBudget, apply_options, nav_statement, next_link, page
from cityops.sensing.sta_render import render, render_bytes
from cityops.sensing.sta_results import check_result, conflict_error, conflicts
from cityops.sensing.sta_write import Writer, bad, time_range
from cityops.urls import public_base

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["SensorThings API 1.1"])

# What is implemented, as listed in the service root (OGC 18-088 §9.2.1 and Annex A): each conformance
# class and each of its requirements, as a client or a test suite may look for either, then FROST's
# extensions. Not listed: receive-updates-via-mqtt (only new Observations are published, not every entity
# set, entity and property topic it requires); create-observations-via-mqtt is added when MQTT is on.
_REQ = "http://www.opengis.net/spec/iot_sensing/1.1/req/"
_CLASSES: dict[str, list[str]] = {
    "datamodel": [
        "entity-control-information/common-control-information",
        *(
            f"{entity}/{part}"
            for entity in (
                "thing", "location", "historical-location", "datastream", "sensor", "observed-property",
                "observation", "feature-of-interest",
            )
            for part in ("properties", "relations")
        ),
    ],
    "resource-path": ["resource-path-to-entities"],
    "request-data": [
        "status-code", "query-status-code", "order", "expand", "select", "orderby", "top", "skip", "count",
        "filter", "built-in-filter-operations", "built-in-query-functions", "pagination",
    ],
    "create-update-delete": [
        "create-entity", "link-to-existing-entities", "deep-insert", "deep-insert-status-code",
        "update-entity", "delete-entity", "historical-location-auto-creation",
        "historical-location-manual-creation", "update-entity-put", "update-entity-jsonpatch",
    ],
    "batch-request": ["batch-request"],
    "multi-datastream": ["properties", "relations", "constraints"],
    "data-array": ["data-array"],
}  # fmt: skip
CONFORMANCE = [
    *(
        uri
        for name, reqs in _CLASSES.items()
        for uri in ([] if name in {"resource-path", "batch-request", "data-array"} else [_REQ + name])
        + [f"{_REQ}{name}/{req}" for req in reqs]
    ),
    "http://docs.oasis-open.org/odata/odata-json-format/v4.01/odata-json-format-v4.01.html",
    "https://fraunhoferiosb.github.io/FROST-Server/extensions/JsonBatchRequest.html",
    "https://fraunhoferiosb.github.io/FROST-Server/extensions/GeoJSON-ResultFormat.html",
    "https://github.com/INSIDE-information-systems/SensorThingsAPI/blob/master/CSV-ResultFormat/CSV-ResultFormat.md",
]
MQTT_CREATE = (
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-observations-via-mqtt/observations-creation"
)


def server_settings(settings: Any) -> dict[str, Any]:
    """``serverSettings`` of the service root. MQTT creation is listed when cityops listens to a broker on
    the plain SensorThings topics (no ``mqtt_topic_prefix``), with the broker as endpoint (no credentials)."""
    out: dict[str, Any] = {"conformance": list(CONFORMANCE)}
    if settings.mqtt_url and not settings.mqtt_topic_prefix:
        out["conformance"].append(MQTT_CREATE)
        parts = urlsplit(settings.mqtt_url)
        out[MQTT_CREATE] = {
            "endpoints": [
                urlunsplit((parts.scheme, parts.hostname or "", "", "", ""))
                + (f":{parts.port}" if parts.port else "")
            ]
        }
    return out


def sta_error_response(request: Request, err: ApiError) -> Response:
    """The OData error shape FROST uses: ``{"error": {"code", "message"}}``."""
    return Response(
        orjson.dumps({"error": {"code": err.code, "message": err.message}}),
        status_code=err.status,
        media_type="application/json",
        headers=err.headers,
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise bad("the request body is empty")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad(f"the request body is not valid JSON: {exc}") from exc


def service_root(request: Request, settings: Any) -> str:
    """The service root links start with: the configured ``public_url`` or the request's own address."""
    return public_base(request) + PREFIX


@dataclass
class Resolved:
    et: EntityType
    alias: Any = None
    stmt: Any = None  # collection
    row: Any = None  # single entity
    prop: str | None = None
    value: bool = False
    ref: bool = False
    parent: tuple[EntityType, Any, Nav] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _split_segment(seg: str) -> tuple[str, int | None]:
    if seg.endswith(")") and "(" in seg:
        name, _, ident = seg[:-1].partition("(")
        ident = ident.strip("'")
        if not ident.isdigit():
            raise NotFound(f"no entity {seg}")
        return name, int(ident)
    return seg, None


def resolve(session: Session, path: str) -> Resolved:
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise NotFound("empty path")
    name, ident = _split_segment(segments[0])
    et = BY_SET.get(name)
    if et is None:
        raise NotFound(f"no entity set {name!r}")
    res = Resolved(et)
    if ident is None:
        res.alias = aliased(et.model)
        res.stmt = select(res.alias)
    else:
        res.row = session.get(et.model, ident)
        if res.row is None:
            raise NotFound(f"no {et.name} with id {ident}")
    for seg in segments[1:]:
        if res.value or (res.ref and seg):
            raise NotFound(f"nothing below {seg!r}")
        if seg == "$ref":
            if res.prop is not None:
                raise bad("$ref applies to entities, not properties")
            res.ref = True
            continue
        if seg == "$value":
            if res.prop is None:
                raise bad("$value applies to a property")
            res.value = True
            continue
        name, ident = _split_segment(seg)
        if res.row is None:
            if ident is not None and res.stmt is not None:
                res.row = session.execute(res.stmt.where(res.alias.id == ident)).scalars().first()
                if res.row is None:
                    raise NotFound(f"no {res.et.name} with id {ident} here")
                res.stmt = None
                if name != res.et.set_name:
                    raise NotFound(f"unknown segment {seg!r}")
                continue
            raise NotFound(f"{seg!r} cannot follow a collection")
        if res.prop is not None:
            raise NotFound(f"{res.prop} has no sub-resource {seg!r}")
        nav = res.et.navs.get(name)
        if nav is not None:
            parent_et, parent_row = res.et, res.row
            if not nav.many:
                if ident is not None:
                    raise NotFound(f"{name} is a single entity")
                target = ENTITIES[nav.target]
                fk = getattr(res.row, nav.fk or "")
                child = session.get(target.model, fk) if fk is not None else None
                if child is None:
                    raise NotFound(f"{parent_et.name} {parent_row.id} has no {name}")
                res = Resolved(target, row=child, parent=(parent_et, parent_row, nav))
                continue
            target, stmt, alias = nav_statement(nav, parent_et, parent_row.id)
            res = Resolved(target, alias=alias, stmt=stmt, parent=(parent_et, parent_row, nav))
            if ident is not None:
                res.row = session.execute(stmt.where(alias.id == ident)).scalars().first()
                if res.row is None:
                    raise NotFound(
                        f"no {target.name} with id {ident} in {parent_et.name}({parent_row.id})/{name}"
                    )
                res.stmt = None
            continue
        if ident is None and (name in res.et.props or name == "@iot.id"):
            res.prop = "id" if name == "@iot.id" else name
            continue
        raise NotFound(f"{res.et.name} has no property or navigation property {name!r}")
    return res


def _options(query: str) -> tuple[dict[str, str], QueryOptions]:
    params = dict(parse_qsl(query, keep_blank_values=True))
    try:
        return params, parse_options(params)
    except ODataError as exc:
        raise bad(str(exc)) from exc


def _principal(request: Request, session: Session) -> Any:
    """Who writes. Besides the usual credentials, HTTP Basic with the API key as password is accepted,
    because common STA clients (frost-sta-client, QGIS, loggers) only speak Basic auth."""
    from cityops.errors import Unauthorized
    from cityops.identity.deps import principal_for_api_key, resolve_principal

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            _user, _, secret = base64.b64decode(credentials.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise Unauthorized("Malformed Basic credentials") from None
        found = principal_for_api_key(session, secret)
        if found is None:
            raise Unauthorized("The API key is invalid, expired or revoked")
        return found
    return resolve_principal(request, session)


def _writer(request: Request, session: Session) -> Writer:
    return writer_for(session, _principal(request, session))


def writer_for(session: Session, principal: Any) -> Writer:
    """A :class:`Writer` whose checks apply the policy for ``principal`` (a ``cityops.identity.policy.Principal``).

    Operators/admins (``SENSING_MANAGE``) may write anything; an ``ingest`` key may create station trees
    and Observations, a key bound to one Thing only Observations of that Thing's Datastreams; no ingest
    key may change or delete a stored Observation (``Writer.correct``).
    """
    from cityops.identity.policy import Action, authorize, can

    @dataclass
    class _Target:
        thing_id: int | None

    def check(thing_id: int | None) -> None:
        if can(principal, Action.SENSING_MANAGE):
            return
        authorize(principal, Action.SENSING_INGEST, _Target(thing_id) if thing_id is not None else None)

    def correct() -> None:
        authorize(principal, Action.SENSING_MANAGE)  # changing what was measured: operators and admins

    return Writer(session, check, correct, principal)


@router.get("", include_in_schema=False)
@router.get("/")
def get_root(request: Request, settings: SettingsDep) -> Response:
    base = service_root(request, settings)
    return json_response(
        {
            "value": [{"name": et.set_name, "url": f"{base}/{et.set_name}"} for et in ENTITIES.values()],
            "serverSettings": server_settings(settings),
        }
    )


@router.post("/$batch")
def post_batch(request: Request, session: SessionDep, settings: SettingsDep, body: RawBody) -> Response:
    """Batch requests (OGC 18-088 §12): OData 4.0 ``multipart/mixed`` with change sets, or OData 4.01 JSON."""
    from cityops.sensing.sta_batch import run_batch

    return run_batch(request, session, settings, body)


@router.post("/CreateObservations")
def create_observations(
    request: Request, session: SessionDep, settings: SettingsDep, body: RawBody
) -> Response:
    """Data arrays (OGC 18-088 §14.3): answers 201 with one selfLink (or ``"error"``) per row."""
    principal = _principal(request, session)
    if principal.is_anonymous:  # before any lookup: an anonymous caller learns nothing about Datastreams
        raise Unauthorized("CreateObservations needs an ingest API key or a staff sign-in")
    writer = writer_for(session, principal)
    data = parse_json(body)
    if not isinstance(data, list):
        raise bad("CreateObservations expects an array of {Datastream, components, dataArray}")
    base = service_root(request, settings)
    batch = DataArrayBatch()
    groups: list[list[str] | list[int | None]] = []  # per group: MultiDatastream links, or batch indexes
    multi = False  # MultiDatastream rows were written in this session: the rest joins their transaction
    # The Things of every named Datastream in one query, not one per group (#22: a station names ten).
    named = {
        ref["@iot.id"]
        for g in data
        if isinstance(g, dict)
        and isinstance(ref := g.get("Datastream"), dict)
        and isinstance(ref.get("@iot.id"), int)
    }
    found = session.execute(
        select(Datastream.id, Datastream.thing_id, Datastream.observation_type).where(
            Datastream.id.in_(named)
        )
    ).all()
    things = {ds_id: thing_id for ds_id, thing_id, _type in found}
    types = {ds_id: kind for ds_id, _thing, kind in found}
    for group in data:
        if not isinstance(group, dict) or "components" not in group or "dataArray" not in group:
            raise bad("each CreateObservations item needs Datastream, components and dataArray")
        comps = group["components"]
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise bad("components must be an array of property names")
        unknown = [c for c in comps if c not in COMPONENTS]
        if unknown or "result" not in comps:
            raise bad(f"components must include result and only {sorted(COMPONENTS)}; got {unknown or comps}")
        mds_ref = group.get("MultiDatastream")
        if (
            "Datastream" not in group
            and isinstance(mds_ref, dict)
            and isinstance(mds_ref.get("@iot.id"), int)
        ):
            groups.append(_create_multi(writer, base, mds_ref["@iot.id"], comps, group["dataArray"]))
            multi = True
            continue
        ds_ref = group.get("Datastream")
        if not isinstance(ds_ref, dict) or not isinstance(ds_ref.get("@iot.id"), int):
            raise bad("each CreateObservations item needs a Datastream or MultiDatastream with an @iot.id")
        if ds_ref["@iot.id"] not in things:
            raise bad(f"no Datastream with @iot.id {ds_ref['@iot.id']}")
        writer.check(things[ds_ref["@iot.id"]])
        _check_results(types[ds_ref["@iot.id"]], comps, group["dataArray"], len(groups))
        groups.append(batch.add(ds_ref["@iot.id"], comps, group["dataArray"]))
    # Rows naming a FeatureOfInterest that does not exist are errors, not a failed batch.
    foi_ids = batch.feature_ids()
    known = set(session.scalars(select(FeatureOfInterest.id).where(FeatureOfInterest.id.in_(foi_ids))))
    columns, remap = batch.columns(foi_ids - known)
    ids: list[int] = []
    if columns.datastream_id and not multi:
        # Committed with concurrent requests' rows: one transaction and one event for them all (#22).
        outcome = _ingest_grouped(session, columns)
        if isinstance(outcome, IngestError):
            raise bad(outcome.message)
        if isinstance(outcome, Clash):  # nothing of the request is stored
            raise conflict_error(outcome.rows)
        ids = outcome.ids
    elif columns.datastream_id:
        try:
            done = ingest_columns(session, columns)  # one batch (and one event) per request
        except IngestError as exc:
            raise bad(exc.message) from exc
        ids = done.ids
        clash = conflicts(session, columns.result, ids, done.duplicate_indexes)
        if clash:  # nothing of the request is stored (the session rolls back)
            raise conflict_error(clash)
    session.commit()  # before the answer is built: the write lock is held no longer than needed
    return json_response(_data_array_links(f"{base}/Observations(", groups, ids, remap), status=201)


def _ingest_grouped(session: Session, columns: ObservationColumns) -> Outcome:
    """:func:`~cityops.sensing.ingest.group.ingest_grouped`, a 503 when no write turn came in time."""
    from cityops.db import WriterBusy
    from cityops.errors import ServiceUnavailable

    try:
        return ingest_grouped(session, columns)
    except WriterBusy as exc:
        raise ServiceUnavailable() from exc


def _check_results(observation_type: str, comps: list[str], rows: Any, group: int) -> None:
    """Every row's result fits the Datastream's observationType (:mod:`sta_results`), or 400 naming it."""
    if not isinstance(rows, list):
        return  # DataArrayBatch.add says what is wrong
    at = comps.index("result")
    for i, row in enumerate(rows):
        if isinstance(row, list) and len(row) > at:
            check_result(observation_type, row[at], f"item {group}, dataArray[{i}]: ")


def _data_array_links(
    prefix: str, groups: list[list[str] | list[int | None]], ids: list[int], remap: list[int] | None
) -> list[str]:
    """The answer of CreateObservations: per row, the selfLink of its Observation or ``"error"``."""
    out: list[str] = []
    for slots in groups:
        for slot in slots:
            if isinstance(slot, str):
                out.append(slot)
            elif slot is None or (remap is not None and remap[slot] < 0):
                out.append("error")
            else:
                out.append(f"{prefix}{ids[slot if remap is None else remap[slot]]})")
    return out


def _create_multi(writer: Writer, base: str, mds_id: int, comps: list[str], data: Any) -> list[str]:
    """MultiDatastream rows of CreateObservations: one Observation each (result is an array)."""
    out: list[str] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, list) or len(item) != len(comps):
            out.append("error")
            continue
        values = dict(zip(comps, item, strict=True))
        body: dict[str, Any] = {k: v for k, v in values.items() if k not in {"id", "FeatureOfInterest/id"}}
        body["MultiDatastream"] = {"@iot.id": mds_id}
        if values.get("FeatureOfInterest/id") is not None:
            body["FeatureOfInterest"] = {"@iot.id": values["FeatureOfInterest/id"]}
        try:
            with writer.session.begin_nested():
                obs = writer.create(ENTITIES["Observation"], body)
            out.append(f"{base}/Observations({obs.id})")
        except ApiError as exc:
            if exc.status in {401, 403}:
                raise
            out.append("error")
    return out


Auth = Callable[[], Any]
"""The caller's :class:`~cityops.identity.policy.Principal`, resolved on first use (a bad credential
raises 401 only where a write needs it, as for a request sent alone)."""


def request_auth(request: Request, session: Session) -> Auth:
    return lambda: _principal(request, session)


@router.get("/{path:path}")
def get_path(path: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    budget = QueryBudget.from_settings(settings)
    return read_resource(session, service_root(request, settings), path, request.url.query, budget)


def read_resource(
    session: Session, base: str, path: str, query: str, budget: QueryBudget | None = None
) -> Response:
    """GET ``path`` (below the service root) with the query string ``query`` within ``budget`` (the
    defaults of :class:`QueryBudget` when None); raises :class:`ApiError`."""
    budget = budget or QueryBudget()
    res = resolve(session, path)
    params, opts = _options(query)
    ctx = Context(session, base, budget)
    try:
        with budget.guard(session):
            return _get(ctx, res, params, opts, path)
    except ODataError as exc:
        raise bad(str(exc)) from exc


def _get(ctx: Context, res: Resolved, params: dict[str, str], opts: QueryOptions, path: str) -> Response:
    et = res.et
    fmt = (opts.result_format or "").lower()
    if opts.result_format is not None and fmt not in RESULT_FORMATS:
        raise bad(f"$resultFormat must be one of {', '.join(RESULT_FORMATS.values())}")
    if fmt and (res.ref or res.prop is not None):
        raise bad("$resultFormat applies to entities and collections, not to $ref or properties")
    if res.row is not None:
        if res.ref:
            return json_response({"@iot.selfLink": ctx.self_link(et, res.row.id)})
        if res.prop is not None:
            value = res.row.id if res.prop == "id" else et.props[res.prop].get(res.row)
            if res.value:
                if isinstance(value, str):
                    return Response(value, media_type="text/plain")
                return Response(orjson.dumps(value), media_type="text/plain")
            return json_response({"@iot.id" if res.prop == "id" else res.prop: value})
        if fmt == "dataarray":
            raise bad("$resultFormat=dataArray applies to collections of Observations")
        prefetch(ctx, et, [res.row], opts.expand)
        if fmt in {"geojson", "csv"}:
            return _formatted(ctx, et, [res.row], opts, fmt)
        return Response(render_bytes(ctx, et, res.row, opts), media_type="application/json")
    stmt, count_stmt = apply_options(ctx, et, res.stmt, res.alias, opts)
    if fmt == "dataarray" and et.name != "Observation":
        raise bad("$resultFormat supports dataArray on Observations")
    if fmt == "csv":
        sta_formats.check_csv_expands(et, opts)
    rows, more = page(ctx, et, stmt, res.alias, opts)
    if fmt in {"geojson", "csv"}:
        prefetch(ctx, et, rows, opts.expand)
        return _formatted(ctx, et, rows, opts, fmt)
    head: dict[str, Any] = {}
    if opts.count:
        head["@iot.count"] = ctx.session.execute(count_stmt).scalar_one()
    url = ctx.base + "/" + path.strip("/")
    tail = {"@iot.nextLink": next_link(url, params, opts, len(rows))} if more else {}
    if fmt == "dataarray":
        return json_response({**head, "value": _data_array(ctx, rows, opts), **tail})
    if res.ref:
        return json_response(
            {**head, "value": [{"@iot.selfLink": ctx.self_link(et, r.id)} for r in rows], **tail}
        )
    prefetch(ctx, et, rows, opts.expand)
    # Each entity serialised as it is rendered, its bytes counted: an answer over the budget stops early.
    value = b"[" + b",".join(render_bytes(ctx, et, r, opts) for r in rows) + b"]"
    return Response(_object_with(head, value, tail), media_type="application/json")


def _object_with(head: dict[str, Any], value: bytes, tail: dict[str, Any]) -> bytes:
    """``{**head, "value": <value, already JSON>, **tail}`` as JSON bytes, in that key order."""
    parts = [orjson.dumps(head)[1:-1], b'"value":' + value, orjson.dumps(tail)[1:-1]]
    return b"{" + b",".join(p for p in parts if p) + b"}"


RESULT_FORMATS = {"dataarray": "dataArray", "geojson": "GeoJSON", "csv": "CSV"}


def _formatted(ctx: Context, et: EntityType, rows: list[Any], opts: QueryOptions, fmt: str) -> Response:
    """A page in FROST's GeoJSON or CSV result format (extensions; see ``sta_formats``)."""
    if fmt == "geojson":
        body = orjson.dumps(sta_formats.geojson(ctx, et, rows, opts), option=orjson.OPT_NON_STR_KEYS)
        ctx.budget.wrote(len(body))
        return Response(body, media_type="application/geo+json")
    text = sta_formats.csv_text(ctx, et, rows, opts)
    ctx.budget.wrote(len(text))
    return Response(text, media_type="text/csv; charset=utf-8")


DATA_ARRAY_DEFAULT = ["id", "phenomenonTime", "resultTime", "result"]


def _data_array(ctx: Context, rows: list[Any], opts: QueryOptions) -> list[dict[str, Any]]:
    et = ENTITIES["Observation"]
    comps = opts.select or DATA_ARRAY_DEFAULT
    for c in comps:
        if c not in et.props and c not in {"@iot.id", "FeatureOfInterest/id"}:
            raise bad(f"unknown component {c!r}")
    groups: dict[tuple[str, int], list[list[Any]]] = {}
    for r in rows:
        key = (
            ("Datastreams", r.datastream_id)
            if r.datastream_id is not None
            else ("MultiDatastreams", r.multi_datastream_id)
        )
        line = []
        for c in comps:
            if c in {"id", "@iot.id"}:
                line.append(r.id)
            elif c == "FeatureOfInterest/id":
                line.append(r.feature_of_interest_id)
            else:
                line.append(et.props[c].get(r))
        groups.setdefault(key, []).append(line)
    return [
        {
            f"{k[0][:-1]}@iot.navigationLink": f"{ctx.base}/{k[0]}({k[1]})",
            "components": comps,
            "dataArray@iot.count": len(lines),
            "dataArray": lines,
        }
        for k, lines in groups.items()
    ]


@router.post("/{path:path}")
def post_path(
    path: str, request: Request, session: SessionDep, settings: SettingsDep, body: RawBody
) -> Response:
    auth = request_auth(request, session)
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None and path.strip("/") == "Observations":
        fast = _single_observation(session, service_root(request, settings), body, auth)
        if fast is not None:
            return fast
    response = create_resource(session, service_root(request, settings), path, body, auth, key)
    return commit_create(session, response, lambda: create_resource_replay(session, path, body, auth, key))


_SINGLE_KEYS = frozenset({"phenomenonTime", "result", "Datastream"})


def _single_observation(session: Session, base: str, body: bytes, auth: Auth) -> Response | None:
    """The plain single Observation a station posts (``phenomenonTime`` instant, ``result``, a
    ``Datastream`` by id, nothing else) on the ingest fast path: checked as the generic create checks it,
    then committed with concurrent requests' rows (:func:`_ingest_grouped`, #22). ``None`` for anything
    else (the generic path answers it, with its messages)."""
    data = parse_json(body)
    if not isinstance(data, dict) or not data.keys() <= _SINGLE_KEYS or "result" not in data:
        return None
    ref, when = data.get("Datastream"), data.get("phenomenonTime")
    ds_id = ref.get("@iot.id") if isinstance(ref, dict) and ref.keys() == {"@iot.id"} else None
    if not isinstance(ds_id, int) or isinstance(ds_id, bool) or not isinstance(when, str):
        return None
    start, end = time_range("phenomenonTime", when)
    found = session.execute(
        select(Datastream.thing_id, Datastream.observation_type).where(Datastream.id == ds_id)
    ).one_or_none()
    if start is None or end is not None or found is None:
        return None
    writer_for(session, auth()).check(found.thing_id)
    check_result(found.observation_type, data["result"])
    outcome = _ingest_grouped(session, ObservationColumns([ds_id], [time_text(start)], [data["result"]]))
    if isinstance(outcome, IngestError):
        raise bad(outcome.message)
    if isinstance(outcome, Clash):
        raise conflict_error()
    et = ENTITIES["Observation"]
    row = session.get(et.model, outcome.ids[0])
    assert row is not None
    ctx = Context(session, base)
    return json_response(
        render(ctx, et, row, QueryOptions()), status=201, headers={"Location": ctx.self_link(et, row.id)}
    )


def commit_create(session: Session, response: Response, replay: Callable[[], Response | None]) -> Response:
    """Commit a create; when a concurrent request with the same ``Idempotency-Key`` committed first (the
    unique key refuses ours), answer with its stored response instead."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        again = replay()
        if again is None:
            raise
        return again
    return response


def create_resource(
    session: Session, base: str, path: str, body: bytes, auth: Auth, key: str | None = None
) -> Response:
    """POST ``body`` to the collection at ``path``: 201 with the entity and ``Location``. The caller commits.

    With an ``Idempotency-Key`` (``key``), the answer is stored with the entity in the same transaction, and
    a later POST with the same key, path and body from the same caller gets that answer again (header
    ``Idempotent-Replayed: true``) instead of a second entity; the same key with another request is 409.
    """
    data = parse_json(body)
    principal = auth()
    claim = sta_idempotency.claim(principal, key, path, data) if key is not None else None
    if claim is not None:
        stored = sta_idempotency.find(session, claim)
        if stored is not None:
            return _replayed(stored)
    writer = writer_for(session, principal)
    et, row = create_at_path(session, path, data, writer)
    session.flush()
    session.refresh(row)
    ctx = Context(session, base)
    link = ctx.self_link(et, row.id)
    rendered = render(ctx, et, row, QueryOptions())
    if claim is not None:
        sta_idempotency.record(session, claim, 201, rendered)
    return json_response(rendered, status=201, headers={"Location": link})


def create_resource_replay(
    session: Session, path: str, body: bytes, auth: Auth, key: str | None
) -> Response | None:
    """The stored answer for a create with ``key`` (after losing a race to commit it), else None."""
    if key is None:
        return None
    claim = sta_idempotency.claim(auth(), key, path, parse_json(body))
    stored = sta_idempotency.find(session, claim)
    return _replayed(stored) if stored is not None else None


def _replayed(stored: sta_idempotency.Stored) -> Response:
    headers = {"Idempotent-Replayed": "true"}
    link = stored.body.get("@iot.selfLink")
    if isinstance(link, str):
        headers["Location"] = link
    return json_response(stored.body, status=stored.status, headers=headers)


IDEMPOTENCY_HEADER = "Idempotency-Key"


def create_at_path(session: Session, path: str, data: Any, writer: Writer) -> tuple[EntityType, Any]:
    """Create the entity ``data`` in the collection at ``path`` (``Things``, ``Datastreams(1)/Observations``).

    The POST handler and MQTT ingest (publishing to ``v1.1/Datastreams(1)/Observations``) share this;
    the caller commits. Raises :class:`ApiError` (400/401/403/404/405) on bad input or access.
    """
    res = resolve(session, path)
    if res.row is not None or res.prop is not None or res.ref:
        raise ApiError(405, "POST creates entities in a collection", code="method_not_allowed")
    preset: dict[str, Any] = {}
    link_after: tuple[Nav, int] | None = None
    if res.parent is not None:
        _parent_et, parent_row, nav = res.parent
        if nav.back_fk is not None:
            preset[nav.back_fk] = parent_row.id
        elif nav.link is not None:
            link_after = (nav, parent_row.id)
    row = writer.create(res.et, data, preset or None)
    if link_after is not None:
        writer.add_link(link_after[0], link_after[1], row.id)
        if (
            link_after[0].link is not None
            and link_after[0].link[0] is thing_locations
            and res.et.name == "Location"
        ):
            writer.record_location_change(link_after[1])  # POST Things(id)/Locations
    return res.et, row


def _single(session: Session, path: str) -> Resolved:
    res = resolve(session, path)
    if res.row is None or res.prop is not None or res.ref:
        raise ApiError(405, "this method applies to a single entity", code="method_not_allowed")
    return res


@router.patch("/{path:path}")
def patch_path(
    path: str, request: Request, session: SessionDep, settings: SettingsDep, body: RawBody
) -> Response:
    content_type = request.headers.get("content-type", "")
    auth = request_auth(request, session)
    response = update_resource(session, service_root(request, settings), path, body, auth, content_type)
    session.commit()
    return response


@router.put("/{path:path}")
def put_path(
    path: str, request: Request, session: SessionDep, settings: SettingsDep, body: RawBody
) -> Response:
    auth = request_auth(request, session)
    response = update_resource(session, service_root(request, settings), path, body, auth, replace=True)
    session.commit()
    return response


def update_resource(
    session: Session,
    base: str,
    path: str,
    body: bytes,
    auth: Auth,
    content_type: str = "",
    *,
    replace: bool = False,
) -> Response:
    """PATCH (merge, or RFC 6902 when ``content_type`` is JSON Patch) or PUT (``replace``) the entity at
    ``path``; 200 with the entity. The caller commits."""
    res = _single(session, path)
    data = parse_json(body)
    writer = writer_for(session, auth())
    ctx = Context(session, base)
    if replace:
        writer.update(res.et, res.row, data, replace=True)
    elif "json-patch" in content_type:
        current = {k: v for k, v in render(ctx, res.et, res.row, QueryOptions()).items() if "@" not in k}
        writer.json_patch(res.et, res.row, data, current)
    else:
        writer.update(res.et, res.row, data)
    session.flush()
    session.refresh(res.row)
    return json_response(render(ctx, res.et, res.row, QueryOptions()))


@router.delete("/{path:path}")
def delete_path(path: str, request: Request, session: SessionDep) -> Response:
    response = delete_resource(session, path, request_auth(request, session))
    session.commit()
    return response


def delete_resource(session: Session, path: str, auth: Auth) -> Response:
    """DELETE the entity at ``path``: 200 with no body. The caller commits."""
    res = _single(session, path)
    writer = writer_for(session, auth())
    writer.delete(res.et, res.row)
    session.flush()
    return Response(status_code=200)

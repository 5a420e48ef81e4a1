"""OGC SensorThings API 1.1 (OGC 18-088) at ``/sta/v1.1``.

Resource paths (``Things(1)/Datastreams``, ``Datastreams(1)/Thing/name/$value``, ``.../$ref``), query
options, deep insert, PATCH (merge, or RFC 6902 with ``Content-Type: application/json-patch+json``), PUT,
DELETE, ``CreateObservations`` (data arrays) and ``$resultFormat=dataArray``. Errors use the OData shape
``{"error": {"code", "message"}}``. Reads are public; writes need an API key with scope ``ingest``
(a key bound to one Thing may only add Observations to that Thing's Datastreams) or an operator/admin.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased
from starlette.responses import Response

from cityops.deps import SessionDep, SettingsDep
from cityops.errors import ApiError, NotFound, Unauthorized
from cityops.sensing.models import Datastream, FeatureOfInterest, thing_locations
from cityops.sensing.odata import ODataError, QueryOptions, parse_options
from cityops.sensing.sta_entities import BY_SET, ENTITIES, EntityType, Nav
from cityops.sensing.sta_query import Context, apply_options, nav_statement, next_link, page, prefetch, render
from cityops.sensing.sta_write import Writer, bad, time_range
from cityops.sensing.storage import IngestError, ObservationIn, ingest_observations

PREFIX = "/sta/v1.1"
router = APIRouter(prefix=PREFIX, tags=["SensorThings API 1.1"])

CONFORMANCE = [
    "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/data-array/data-array",
    "http://www.opengis.net/spec/iot_sensing/1.1/req/multi-datastream",
    "http://docs.oasis-open.org/odata/odata-json-format/v4.01/odata-json-format-v4.01.html",
]


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
    return str(settings.public_url).rstrip("/") + PREFIX


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


def _options(request: Request) -> tuple[dict[str, str], QueryOptions]:
    params = dict(parse_qsl(request.url.query, keep_blank_values=True))
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
    and Observations, a key bound to one Thing only Observations of that Thing's Datastreams.
    """
    from cityops.identity.policy import Action, authorize, can

    @dataclass
    class _Target:
        thing_id: int | None

    def check(thing_id: int | None) -> None:
        if can(principal, Action.SENSING_MANAGE):
            return
        authorize(principal, Action.SENSING_INGEST, _Target(thing_id) if thing_id is not None else None)

    return Writer(session, check)


@router.get("", include_in_schema=False)
@router.get("/")
def get_root(request: Request, settings: SettingsDep) -> Response:
    base = service_root(request, settings)
    return json_response(
        {
            "value": [{"name": et.set_name, "url": f"{base}/{et.set_name}"} for et in ENTITIES.values()],
            "serverSettings": {"conformance": CONFORMANCE},
        }
    )


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
    out: list[str | int] = []  # a link, "error", or the index of a row stored below
    rows: list[ObservationIn] = []
    for group in data:
        if not isinstance(group, dict) or "components" not in group or "dataArray" not in group:
            raise bad("each CreateObservations item needs Datastream, components and dataArray")
        comps = group["components"]
        if not isinstance(comps, list) or not all(isinstance(c, str) for c in comps):
            raise bad("components must be an array of property names")
        allowed = {"id", "phenomenonTime", "resultTime", "result", "resultQuality", "validTime", "parameters",
                   "FeatureOfInterest/id"}  # fmt: skip
        unknown = [c for c in comps if c not in allowed]
        if unknown or "result" not in comps:
            raise bad(f"components must include result and only {sorted(allowed)}; got {unknown or comps}")
        mds_ref = group.get("MultiDatastream")
        if (
            "Datastream" not in group
            and isinstance(mds_ref, dict)
            and isinstance(mds_ref.get("@iot.id"), int)
        ):
            out.extend(_create_multi(writer, base, mds_ref["@iot.id"], comps, group["dataArray"]))
            continue
        ds_ref = group.get("Datastream")
        if not isinstance(ds_ref, dict) or not isinstance(ds_ref.get("@iot.id"), int):
            raise bad("each CreateObservations item needs a Datastream or MultiDatastream with an @iot.id")
        ds = session.get(Datastream, ds_ref["@iot.id"])
        if ds is None:
            raise bad(f"no Datastream with @iot.id {ds_ref['@iot.id']}")
        writer.check(ds.thing_id)
        for item in group["dataArray"] if isinstance(group["dataArray"], list) else []:
            if not isinstance(item, list) or len(item) != len(comps):
                out.append("error")
                continue
            values = dict(zip(comps, item, strict=True))
            try:
                start, end = time_range("phenomenonTime", values.get("phenomenonTime"))
                foi = values.get("FeatureOfInterest/id")
                if foi is not None and not isinstance(foi, int):
                    raise bad("FeatureOfInterest/id must be an integer")
                valid = time_range("validTime", values.get("validTime"))
                params = values.get("parameters")
                if params is not None and not isinstance(params, dict):
                    raise bad("parameters must be an object")
                from cityops.clock import utcnow

                rows.append(
                    ObservationIn(
                        datastream_id=ds.id,
                        phenomenon_time=start or utcnow(),
                        phenomenon_time_end=end,
                        result=values["result"],
                        result_time=time_range("resultTime", values.get("resultTime"))[0],
                        result_quality=values.get("resultQuality"),
                        valid_time_start=valid[0],
                        valid_time_end=valid[1],
                        parameters=params,
                        feature_of_interest_id=foi,
                    )
                )
                out.append(len(rows) - 1)
            except ApiError:
                out.append("error")
    # Rows naming a FeatureOfInterest that does not exist are errors, not a failed batch.
    foi_ids = {r.feature_of_interest_id for r in rows} - {None}
    known = (
        set(session.scalars(select(FeatureOfInterest.id).where(FeatureOfInterest.id.in_(foi_ids))))
        if foi_ids
        else set()
    )
    keep = [r.feature_of_interest_id is None or r.feature_of_interest_id in known for r in rows]
    stored = [r for r, k in zip(rows, keep, strict=True) if k]
    position: dict[int, int] = {}
    for i, k in enumerate(keep):
        if k:
            position[i] = len(position)
    ids: list[int] = []
    if stored:
        try:
            ids = ingest_observations(session, stored).ids  # one batch (and one event) per request
        except IngestError as exc:
            raise bad(exc.message) from exc
    links = [
        slot
        if isinstance(slot, str)
        else f"{base}/Observations({ids[position[slot]]})"
        if slot in position
        else "error"
        for slot in out
    ]
    session.commit()
    return json_response(links, status=201)


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


@router.get("/{path:path}")
def get_path(path: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    res = resolve(session, path)
    params, opts = _options(request)
    ctx = Context(session, service_root(request, settings))
    try:
        return _get(ctx, res, params, opts, request)
    except ODataError as exc:
        raise bad(str(exc)) from exc


def _get(
    ctx: Context, res: Resolved, params: dict[str, str], opts: QueryOptions, request: Request
) -> Response:
    et = res.et
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
        prefetch(ctx, et, [res.row], opts.expand)
        return json_response(render(ctx, et, res.row, opts))
    stmt, count_stmt = apply_options(ctx, et, res.stmt, res.alias, opts)
    rows, more = page(ctx, et, stmt, res.alias, opts)
    body: dict[str, Any] = {}
    if opts.count:
        body["@iot.count"] = ctx.session.execute(count_stmt).scalar_one()
    url = ctx.base + "/" + request.path_params["path"].strip("/")
    if opts.result_format is not None:
        if opts.result_format.lower() != "dataarray" or et.name != "Observation":
            raise bad("$resultFormat supports dataArray on Observations")
        body["value"] = _data_array(ctx, rows, opts)
    elif res.ref:
        body["value"] = [{"@iot.selfLink": ctx.self_link(et, r.id)} for r in rows]
    else:
        prefetch(ctx, et, rows, opts.expand)
        body["value"] = [render(ctx, et, r, opts) for r in rows]
    if more:
        body["@iot.nextLink"] = next_link(url, params, opts, len(rows))
    return json_response(body)


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
    data = parse_json(body)
    writer = _writer(request, session)
    et, row = create_at_path(session, path, data, writer)
    session.commit()
    ctx = Context(session, service_root(request, settings))
    link = ctx.self_link(et, row.id)
    session.refresh(row)
    return json_response(render(ctx, et, row, QueryOptions()), status=201, headers={"Location": link})


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
    res = _single(session, path)
    data = parse_json(body)
    writer = _writer(request, session)
    ctx = Context(session, service_root(request, settings))
    content_type = request.headers.get("content-type", "")
    if "json-patch" in content_type:
        current = {k: v for k, v in render(ctx, res.et, res.row, QueryOptions()).items() if "@" not in k}
        writer.json_patch(res.et, res.row, data, current)
    else:
        writer.update(res.et, res.row, data)
    session.commit()
    session.refresh(res.row)
    return json_response(render(ctx, res.et, res.row, QueryOptions()))


@router.put("/{path:path}")
def put_path(
    path: str, request: Request, session: SessionDep, settings: SettingsDep, body: RawBody
) -> Response:
    res = _single(session, path)
    data = parse_json(body)
    writer = _writer(request, session)
    writer.update(res.et, res.row, data, replace=True)
    session.commit()
    session.refresh(res.row)
    ctx = Context(session, service_root(request, settings))
    return json_response(render(ctx, res.et, res.row, QueryOptions()))


@router.delete("/{path:path}")
def delete_path(path: str, request: Request, session: SessionDep) -> Response:
    res = _single(session, path)
    writer = _writer(request, session)
    writer.delete(res.et, res.row)
    session.commit()
    return Response(status_code=200)

"""``/ngsi-ld/v1``: entities, attributes, batch operations, types and attributes discovery, and the core
@context files at ``/ngsi-ld/contexts``. Every error is ProblemDetails (application/problem+json)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from cityops import errors as native
from cityops.audit.service import record
from cityops.events.outbox import emit
from cityops.identity.deps import resolve_principal
from cityops.identity.policy import Action, Principal, can
from cityops.ngsild import context as ctx
from cityops.ngsild import entities as store
from cityops.ngsild.errors import (
    BadRequestData,
    Forbidden,
    InvalidRequest,
    ResourceNotFound,
    Unauthorized,
)
from cityops.ngsild.models import NgsiEntity
from cityops.ngsild.query import parse_geo, parse_q
from cityops.ngsild.render import parse_options, render

router = APIRouter(include_in_schema=False)
PREFIX = "/ngsi-ld/v1"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
MAX_BODY = 1_000_000


# --- request plumbing ----------------------------------------------------------------------------------


def sessions(request: Request) -> Session:
    session: Session = request.app.state.sessions()
    return session


def principal(request: Request, session: Session) -> Principal:
    try:
        return resolve_principal(request, session)
    except native.ApiError as exc:
        raise Unauthorized(str(exc)) from exc


def authorize(who: Principal, action: Action) -> None:
    if can(who, action):
        return
    if who.is_anonymous:
        raise Unauthorized("sign in or send an API key to do this", action=str(action))
    raise Forbidden("you are not allowed to do this", action=str(action))


def is_staff(who: Principal) -> bool:
    return can(who, Action.PLACE_VIEW_STAFF)


async def body_of(request: Request, allowed: tuple[str, ...] = (ctx.JSON, ctx.LD_JSON)) -> Any:
    ctx.check_content_type(request, allowed)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequestData("payload larger than 1 MB")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"payload is not JSON: {exc}") from exc


def an_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequestData("payload must be a JSON object")
    return body


def answer(
    request: Request,
    content: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    context: Any = None,
) -> Response:
    """JSON with a Link header to the context, or JSON-LD with @context in each entity (Accept decides)."""
    mtype = ctx.response_type(request)
    hdrs = dict(headers or {})
    use = context if context is not None else ctx.core_url(request)
    if mtype == ctx.JSON:
        hdrs["Link"] = ctx.link_header(use if isinstance(use, str) else ctx.core_url(request))
    elif isinstance(content, dict) and "id" in content:
        content = {**content, "@context": use}
    elif isinstance(content, list):
        content = [{**c, "@context": use} if isinstance(c, dict) and "id" in c else c for c in content]
    return JSONResponse(content, status_code=status, headers=hdrs, media_type=mtype)


def _int(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if (
        not re.fullmatch(r"\d+", raw)
        or int(raw) > maximum
        or (name == "limit" and int(raw) == 0 and "count" not in request.query_params)
    ):
        raise BadRequestData(f"{name} must be an integer from {0 if name != 'limit' else 1} to {maximum}")
    return int(raw)


def _list(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else None


def _written(
    session: Session, who: Principal, request: Request, action: str, eid: str, before: Any, after: Any
) -> None:
    record(
        session,
        who,
        f"ngsild.entity.{action}",
        "ngsild_entity",
        eid,
        before=before,
        after=after,
        request=request,
    )
    emit(session, "ngsild.entity.changed", {"id": eid, "action": action})


# --- contexts ------------------------------------------------------------------------------------------


@router.get("/ngsi-ld/contexts/ngsi-ld-core-context-v{version}.jsonld")
def core_context_file(version: str) -> Response:
    if version not in ctx.VERSIONS:
        raise ResourceNotFound(f"no core context v{version}; served: {', '.join(ctx.VERSIONS)}")
    return JSONResponse(
        ctx.core_context(version), media_type=ctx.LD_JSON, headers={"Cache-Control": "public, max-age=86400"}
    )


# --- entities ------------------------------------------------------------------------------------------


@router.get(PREFIX + "/entities")
@router.get(PREFIX + "/entities/")
def query_entities(request: Request) -> Response:
    qp = request.query_params
    opts = parse_options(qp.get("options"), qp.get("format"))
    types, ids, attrs = _list(request, "type"), _list(request, "id"), _list(request, "attrs")
    q, georel = qp.get("q"), qp.get("georel")
    if not (types or ids or attrs or q or georel or qp.get("idPattern")):
        raise BadRequestData("give at least one of type, id, idPattern, attrs, q or georel")
    try:
        pattern = re.compile(qp["idPattern"]) if qp.get("idPattern") else None
    except re.error as exc:
        raise BadRequestData(f"idPattern is not a regular expression: {exc}") from exc
    flt = store.Filter(
        types=types,
        ids=ids,
        id_pattern=pattern,
        q=parse_q(q) if q else None,
        geo=parse_geo(georel, qp.get("geometry"), qp.get("coordinates")),
        geoproperty=qp.get("geoproperty", "location"),
        attrs=attrs,
    )
    limit = _int(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
    offset = _int(request, "offset", 0, 10**9)
    count = qp.get("count") == "true" or "count" in opts
    context = ctx.request_context(request)
    with sessions(request) as session:
        who = principal(request, session)
        found = store.query(session, flt, staff=is_staff(who), limit=limit, offset=offset)
    headers = {"NGSILD-Results-Count": str(found.total)} if count else {}
    return answer(request, [render(e, opts, attrs) for e in found.entities], headers=headers, context=context)


@router.post(PREFIX + "/entities")
@router.post(PREFIX + "/entities/")  # ngsildclient posts here
async def create_entity(request: Request) -> Response:
    body = an_object(await body_of(request))
    context = ctx.request_context(request, body)
    with sessions(request) as session:
        who = principal(request, session)
        authorize(who, Action.NGSILD_ENTITY_WRITE)
        row = store.create(session, body, context)
        _written(session, who, request, "create", row.id, None, {"type": row.type, "attrs": row.attrs})
        session.commit()
        eid = row.id
    return Response(status_code=201, headers={"Location": f"{PREFIX}/entities/{eid}"})


@router.get(PREFIX + "/entities/{eid:path}")
def retrieve_entity(eid: str, request: Request) -> Response:
    opts = parse_options(request.query_params.get("options"), request.query_params.get("format"))
    attrs = _list(request, "attrs")
    context = ctx.request_context(request)
    with sessions(request) as session:
        who = principal(request, session)
        entity = store.get(session, store.check_id(eid), staff=is_staff(who))
    return answer(request, render(entity, opts, attrs), context=context)


async def _write(
    request: Request, eid: str, action: str, body_types: tuple[str, ...] = (ctx.JSON, ctx.LD_JSON)
) -> tuple[Response, Any]:
    body = an_object(await body_of(request, body_types)) if action not in ("delete", "delete_attr") else {}
    if body:
        ctx.request_context(request, body)  # strict media types; a remote context must resolve
    with sessions(request) as session:
        who = principal(request, session)
        authorize(who, Action.NGSILD_ENTITY_WRITE)
        before = session.get(NgsiEntity, eid)
        snapshot = {"type": before.type, "attrs": before.attrs} if before is not None else None
        result: Any = None
        if action == "replace":
            row = store.replace(session, eid, body)
        elif action == "merge":
            row = store.merge(session, eid, body)
        elif action == "append":
            no_over = "noOverwrite" in parse_options(request.query_params.get("options"))
            row, done, skipped = store.append(session, eid, body, overwrite=not no_over)
            result = (done, skipped)
        elif action == "update":
            row, done, skipped = store.update(session, eid, body)
            result = (done, skipped)
        elif action == "delete":
            row = store.delete(session, eid)
        else:
            row = store.delete_attr(session, eid, request.path_params["attr"])
        after = None if action == "delete" else {"type": row.type, "attrs": row.attrs}
        _written(session, who, request, action, eid, snapshot, after)
        session.commit()
    return Response(status_code=204), result


# the plain route is registered last: ``{eid:path}`` would take ``…/attrs`` as part of the id
@router.put(PREFIX + "/entities/{eid:path}")
@router.put(PREFIX + "/entities/{eid:path}/attrs")
async def replace_entity(eid: str, request: Request) -> Response:
    return (await _write(request, store.check_id(eid), "replace"))[0]


@router.patch(PREFIX + "/entities/{eid:path}/attrs")
async def update_attrs(eid: str, request: Request) -> Response:
    response, (done, skipped) = await _write(request, store.check_id(eid), "update")
    return _partial(request, done, skipped) if skipped else response


@router.post(PREFIX + "/entities/{eid:path}/attrs")
async def append_attrs(eid: str, request: Request) -> Response:
    response, (done, skipped) = await _write(request, store.check_id(eid), "append")
    return _partial(request, done, skipped) if skipped else response


@router.delete(PREFIX + "/entities/{eid:path}/attrs/{attr}")
async def delete_attr(eid: str, attr: str, request: Request) -> Response:
    return (await _write(request, store.check_id(eid), "delete_attr"))[0]


@router.patch(PREFIX + "/entities/{eid:path}")
async def merge_entity(eid: str, request: Request) -> Response:
    allowed = (ctx.JSON, ctx.LD_JSON, ctx.MERGE_PATCH)
    return (await _write(request, store.check_id(eid), "merge", allowed))[0]


@router.delete(PREFIX + "/entities/{eid:path}")
async def delete_entity(eid: str, request: Request) -> Response:
    return (await _write(request, store.check_id(eid), "delete"))[0]


def _partial(request: Request, done: Sequence[str], skipped: Sequence[str]) -> Response:
    body = {
        "updated": list(done),
        "notUpdated": [{"attributeName": n, "reason": "attribute not updated"} for n in skipped],
    }
    return JSONResponse(body, status_code=207)

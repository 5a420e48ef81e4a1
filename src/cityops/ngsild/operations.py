"""Batch ``entityOperations`` (create, upsert, update, delete, merge) and types/attributes discovery."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from cityops.identity.policy import Action
from cityops.ngsild import entities as store
from cityops.ngsild.api import (
    PREFIX,
    _written,
    an_object,
    answer,
    authorize,
    body_of,
    is_staff,
    principal,
    sessions,
)
from cityops.ngsild.context import request_context
from cityops.ngsild.entities import Filter
from cityops.ngsild.errors import BadRequestData, NgsiError, ResourceNotFound
from cityops.ngsild.models import NgsiEntity
from cityops.ngsild.render import parse_options

router = APIRouter(include_in_schema=False)
MAX_BATCH = 1000


def _error(eid: Any, exc: NgsiError) -> dict[str, Any]:
    return {"entityId": eid, "error": exc.body()}


@router.post(PREFIX + "/entityOperations/{op}")
async def batch(op: str, request: Request) -> Response:
    """Each entity in its own savepoint: one bad entity is reported, the others are done (207)."""
    if op not in ("create", "upsert", "update", "delete", "merge"):
        raise ResourceNotFound(f"no entity operation {op!r}")
    body = await body_of(request)
    if not isinstance(body, list) or len(body) > MAX_BATCH:
        raise BadRequestData(f"payload must be a JSON array of at most {MAX_BATCH} items")
    replace = request.query_params.get("options") == "replace"
    no_overwrite = "noOverwrite" in parse_options(
        request.query_params.get("options") if not replace else None
    )
    success: list[str] = []
    errors: list[dict[str, Any]] = []
    created: list[str] = []
    with sessions(request) as session:
        who = principal(request, session)
        authorize(who, Action.NGSILD_ENTITY_WRITE)
        for item in body:
            eid = item if op == "delete" else (item.get("id") if isinstance(item, dict) else None)
            try:
                with session.begin_nested():
                    if op == "delete":
                        eid = store.check_id(eid)
                        store.delete(session, eid)
                        _written(session, who, request, "delete", eid, None, None)
                    else:
                        entity = an_object(item)
                        eid = store.check_id(entity.get("id"))
                        context = request_context(request, entity)
                        exists = session.get(NgsiEntity, eid) is not None
                        if op == "create" or (op == "upsert" and not exists):
                            row = store.create(session, entity, context)
                            created.append(eid)
                        elif op == "upsert" and replace:
                            row = store.replace(session, eid, entity)
                        elif op in ("upsert", "update"):
                            row, _, _ = store.append(session, eid, entity, overwrite=not no_overwrite)
                        else:
                            row = store.merge(session, eid, entity)
                        _written(session, who, request, op, eid, None, {"type": row.type, "attrs": row.attrs})
                success.append(str(eid))
            except NgsiError as exc:
                errors.append(_error(eid, exc))
        session.commit()
    if not errors:
        if op in ("create",) or (op == "upsert" and created):
            return JSONResponse(success, status_code=201)
        return Response(status_code=204)
    return JSONResponse({"success": success, "errors": errors}, status_code=207)


# --- discovery ---------------------------------------------------------------------------------------------


def _all(request: Request) -> list[dict[str, Any]]:
    with sessions(request) as session:
        who = principal(request, session)
        return store.query(session, Filter(), staff=is_staff(who), limit=10**9, offset=0).entities


@router.get(PREFIX + "/types")
def types(request: Request) -> Response:
    request_context(request)
    counts: dict[str, set[str]] = defaultdict(set)
    for e in _all(request):
        counts[e["type"]].update(k for k in e if k not in ("id", "type", "createdAt", "modifiedAt"))
    if request.query_params.get("details") == "true":
        return answer(
            request,
            [
                {"id": t, "type": "EntityType", "typeName": t, "attributeNames": sorted(a)}
                for t, a in sorted(counts.items())
            ],
        )
    return answer(
        request,
        {"id": "urn:ngsi-ld:EntityTypeList:cityops", "type": "EntityTypeList", "typeList": sorted(counts)},
    )


@router.get(PREFIX + "/types/{name}")
def type_info(name: str, request: Request) -> Response:
    request_context(request)
    found = [e for e in _all(request) if e["type"] == name]
    if not found:
        raise ResourceNotFound(f"no entity of type {name}", resource=name)
    attrs: dict[str, set[str]] = defaultdict(set)
    for e in found:
        for k, v in e.items():
            if k not in ("id", "type", "createdAt", "modifiedAt"):
                attrs[k].add(
                    v[0]["type"]
                    if isinstance(v, list)
                    else v.get("type", "Property")
                    if isinstance(v, dict)
                    else "Property"
                )
    details = [
        {"id": a, "type": "Attribute", "attributeName": a, "attributeTypes": sorted(t)}
        for a, t in sorted(attrs.items())
    ]
    return answer(
        request,
        {
            "id": name,
            "type": "EntityTypeInfo",
            "typeName": name,
            "entityCount": len(found),
            "attributeDetails": details,
        },
    )


@router.get(PREFIX + "/attributes")
def attributes(request: Request) -> Response:
    request_context(request)
    names: set[str] = set()
    for e in _all(request):
        names.update(k for k in e if k not in ("id", "type", "createdAt", "modifiedAt"))
    return answer(
        request,
        {"id": "urn:ngsi-ld:AttributeList:cityops", "type": "AttributeList", "attributeList": sorted(names)},
    )


@router.get(PREFIX + "/attributes/{name}")
def attribute_info(name: str, request: Request) -> Response:
    request_context(request)
    found = [e for e in _all(request) if name in e]
    if not found:
        raise ResourceNotFound(f"no attribute {name}", resource=name)
    return answer(
        request,
        {
            "id": name,
            "type": "Attribute",
            "attributeName": name,
            "attributeCount": len(found),
            "typeNames": sorted({e["type"] for e in found}),
        },
    )

"""``/api/v1/public-services``: the dossier store (push, import, staff read), the citizen lookup and the QR.

| route | who |
|---|---|
| ``POST /dossiers`` | the one-stop-shop system's key (scope ``dossiers``) or an admin: upsert a batch |
| ``POST /dossiers/import`` | admin: a CSV or JSON file |
| ``POST /dossiers/lookup`` | anyone: ``{code, digits}``, rate-limited, logged without personal data |
| ``GET /dossiers/overdue`` | anyone: open dossiers past due now, per agency and procedure (counts only) |
| ``GET /dossiers/overdue.geojson`` | anyone: the same per agency, at its area's centre (the IOC's map layer) |
| ``GET /dossiers/qr.svg?code=`` | anyone: the receipt's QR code, opening the lookup page |
| ``GET /dossiers/{code}`` | staff or the system's key: one dossier without the second factor |
| ``GET /nearby?near=lat,lon&type=...`` | anyone: the nearest public facilities, distance, open now |
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.audit.service import record
from cityops.clock import utcnow
from cityops.deps import ReadSessionDep, SessionDep, SettingsDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, Principal, authorize
from cityops.openapi import GEOJSON_OK, GeoJSONResponse
from cityops.sectors.public_services import dossiers, lookup, nearby, receipts
from cityops.sectors.public_services.layers import overdue_features
from cityops.sectors.public_services.models import Dossier
from cityops.sectors.public_services.statuses import CLOSED, WAITING_ON_APPLICANT
from cityops.urls import public_base

router = APIRouter(prefix="/api/v1/public-services", tags=["public services"])
MAX_FILE_BYTES = 5 * 1024 * 1024


class LookupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64)
    digits: str = Field(max_length=8)


def _store(
    session: Any, settings: Any, rows: list[Any], source: str, principal: Principal, request: Request
) -> dict[str, Any]:
    if len(rows) > dossiers.MAX_ROWS:
        raise Invalid(
            f"At most {dossiers.MAX_ROWS} dossiers per request",
            code="too_many_rows",
            details={"limit": dossiers.MAX_ROWS, "given": len(rows)},
        )
    report = dossiers.upsert(session, rows, secret=settings.secret_key, source=source)
    if rows and len(report.rejected) == len(rows):
        session.rollback()
        raise Invalid("Every row was rejected", code="rows_rejected", details=report.as_dict())
    record(
        session,
        principal,
        "dossier.upsert",
        "dossier_batch",
        None,
        after={k: v for k, v in report.as_dict().items() if k != "rejected"}
        | {"rejected": len(report.rejected), "source": source},
        request=request,
    )
    session.commit()
    return report.as_dict()


@router.post("/dossiers")
def push_dossiers(
    body: list[dict[str, Any]] | dict[str, Any],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Upsert dossiers: a JSON array, or ``{"dossiers": [...]}``; returns the counts and rejected rows."""
    authorize(principal, Action.DOSSIER_PUSH)
    rows = body.get("dossiers") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise Invalid('Send a JSON array of dossiers or {"dossiers": [...]}', details={"field": "dossiers"})
    return _store(session, settings, rows, "push", principal, request)


@router.post("/dossiers/import")
async def import_dossiers(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    """Import a CSV or JSON file of dossiers (admin)."""
    authorize(principal, Action.DOSSIER_IMPORT)
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise Invalid(
            "The file is larger than 5 MB", code="file_too_large", details={"limit": MAX_FILE_BYTES}
        )
    try:
        rows = dossiers.read_file(data, file.filename or "")
    except ValueError as exc:
        raise Invalid(f"The file cannot be read: {exc}", code="unreadable_file") from None
    name = (file.filename or "upload")[:50]
    return _store(session, settings, rows, f"file:{name}", principal, request)


@router.post("/dossiers/lookup")
def lookup_dossier(
    body: LookupBody,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """A citizen's lookup by code and the last 4 digits of the phone or ID number on record."""
    authorize(principal, Action.DOSSIER_LOOKUP)
    client = request.client.host if request.client else "unknown"
    row = lookup.lookup(session, settings, body.code, body.digits, client)
    return lookup.public_view(row)


def _overdue_rows(session: Session, now: datetime) -> list[Any]:
    return list(
        session.execute(
            select(Dossier.agency_code, Dossier.agency_name, Dossier.procedure_name, func.count())
            .where(
                Dossier.due_at < now,
                Dossier.returned_at.is_(None),
                Dossier.status.not_in(sorted(CLOSED | WAITING_ON_APPLICANT)),
            )
            .group_by(Dossier.agency_code, Dossier.agency_name, Dossier.procedure_name)
            .order_by(func.count().desc(), Dossier.agency_code, Dossier.procedure_name)
            .limit(500)
        ).all()
    )


@router.get("/dossiers/overdue")
def overdue_dossiers(session: ReadSessionDep) -> dict[str, Any]:
    """Open dossiers past their due time now, per agency and procedure (counts only, nothing personal)."""
    now = utcnow()
    rows = _overdue_rows(session, now)
    agencies: dict[str, dict[str, Any]] = {}
    for code, name, procedure, count in rows:
        entry = agencies.setdefault(
            code, {"agency_code": code, "agency_name": name, "overdue": 0, "procedures": []}
        )
        entry["overdue"] += count
        entry["procedures"].append({"procedure_name": procedure, "overdue": count})
    items = sorted(agencies.values(), key=lambda e: (-e["overdue"], e["agency_code"]))
    return {"as_of": now.isoformat(), "total": sum(e["overdue"] for e in items), "agencies": items}


@router.get("/dossiers/overdue.geojson", response_class=GeoJSONResponse, responses=GEOJSON_OK)
def overdue_layer(
    session: ReadSessionDep, area_id: Annotated[int | None, Query(ge=1)] = None
) -> dict[str, Any]:
    """Each agency with dossiers, at the centre of the area it serves, with its overdue count and a level
    (``none``, ``some`` 1–4, ``many`` 5+): the IOC's map layer. ``area_id`` keeps agencies serving inside it."""
    now = utcnow()
    counts: dict[str, int] = {}
    for code, _name, _procedure, count in _overdue_rows(session, now):
        counts[code] = counts.get(code, 0) + count
    return overdue_features(session, counts, area_id)


@router.get(
    "/dossiers/qr.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "The QR code"}
    },
)
def dossier_qr(request: Request, code: Annotated[str, Query(max_length=64)]) -> Response:
    """The receipt's QR code: the lookup page with the code filled in (never the digits)."""
    text = lookup.normalise_code(code)
    svg = receipts.qr_svg(receipts.lookup_url(public_base(request), text))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})


@router.get("/dossiers/{code}")
def staff_dossier(code: str, session: ReadSessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """One dossier for staff or the one-stop-shop system (the same view; the factor is never shown)."""
    authorize(principal, Action.DOSSIER_VIEW)
    text = lookup.normalise_code(code)
    row = session.scalars(select(Dossier).where(Dossier.code == text)).one_or_none()
    if row is None:
        raise NotFound("Unknown dossier", code="dossier_not_found")
    return lookup.public_view(row) | {"agency_code": row.agency_code, "source": row.source, "demo": row.demo}


@router.get("/nearby")
def nearby_places(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    near: Annotated[str, Query(max_length=64, description="lat,lon in WGS 84 degrees")],
    type: Annotated[list[str], Query(description="public place type codes (repeat, at most 10)")],
    radius_m: Annotated[int, Query(ge=100, le=nearby.MAX_RADIUS_M)] = 20_000,
    limit: Annotated[int, Query(ge=1, le=nearby.MAX_LIMIT)] = 10,
    q: Annotated[
        str | None, Query(max_length=100, description="words of the name, diacritics ignored")
    ] = None,
    open_now: bool = False,
) -> dict[str, Any]:
    """The nearest public facilities of the given types, nearest first, with distance and open-now."""
    authorize(principal, Action.PLACE_READ)
    if len(type) > 10:
        raise Invalid("type: at most 10 place types", details={"field": "type"})
    lat, lon = nearby.parse_near(near)
    query = nearby.NearbyQuery(lat, lon, tuple(type), radius_m, limit, q, open_now)
    return nearby.nearby(session, query, utcnow())

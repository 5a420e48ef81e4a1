"""The report routes anyone may call, signed in or not: categories, submission (with ``Idempotency-Key``),
media upload before submitting, the public list, map and detail, and the public scorecards."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.clock import LOCAL_TZ, utcnow
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal, resolve_principal
from cityops.identity.policy import Principal
from cityops.media.uploads import uploader_keys
from cityops.openapi import CSV, GEOJSON_OK, XLSX, GeoJSONResponse, success_types
from cityops.paging import Page, total
from cityops.reports import intake, public
from cityops.reports.access import Actor
from cityops.reports.api.cases import (
    CASE_PAGE,
    PREFIX,
    STRICT,
    base_url,
    filtered,
    get_case,
    public_query,
)
from cityops.reports.api.schemas import (
    CategoryOut,
    PublicDetailOut,
    PublicPage,
    ScorecardOut,
    SubmissionOut,
    UploadOut,
)
from cityops.reports.models import Case, Category
from cityops.settings import Settings

router = APIRouter(prefix=PREFIX, tags=["reports"])


class ReporterIn(BaseModel):
    model_config = STRICT
    name: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=32)
    email: str | None = Field(None, max_length=254)


class SubmitIn(BaseModel):
    model_config = STRICT
    category: str = Field(max_length=64)
    description: str = Field("", max_length=4000)
    lat: float | None = None
    lon: float | None = None
    accuracy_m: float | None = Field(None, ge=0)
    address: str | None = Field(None, max_length=500)
    answers: dict[str, Any] = Field(default_factory=dict)
    reporter: ReporterIn | None = None
    consent: bool = False
    consent_purpose: str = Field("handling this report", max_length=200)
    media_ids: list[int] = Field(default_factory=list, max_length=10)


def submission_body(result: intake.SubmitResult) -> dict[str, Any]:
    case = result.case
    return {
        "ref": case.ref,
        "token": result.token,
        "state": case.state,
        "category": case.category_code,
        "routed": case.agency_id is not None,
        "area_id": case.area_id,
        "location_source": case.location_source,
        "submitted_at": public.iso(case.submitted_at),
        "ack_due_at": public.iso(case.ack_due_at),
        "expected_at": public.iso(case.resolve_due_at),
        "duplicates": result.duplicates,
    }


@router.get("/categories", response_model=list[CategoryOut])
def list_categories(session: SessionDep) -> list[dict[str, Any]]:
    """Active categories with their extra questions, SLA hours and urgency."""
    rows = session.scalars(
        select(Category).where(Category.active.is_(True)).order_by(Category.order, Category.code)
    )
    return [
        {
            "code": c.code,
            "name_vi": c.name_vi,
            "name_en": c.name_en,
            "description": c.description,
            "sla_hours": c.sla_hours,
            "urgent": c.urgent,
            "questions": c.questions,
        }
        for c in rows
    ]


@router.post("", status_code=201, response_model=SubmissionOut)
async def submit_report(
    body: SubmitIn,
    request: Request,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Submit a report. Anonymous submissions are allowed; keep the returned ``token`` to follow it."""
    # One hop to a worker thread for the whole request: as a sync route with its session, settings and
    # principal dependencies it took five (each sync dependency runs in the threadpool), a sizeable part
    # of a submission's CPU under load.
    return await run_in_threadpool(_submit_report, request, body, idempotency_key)


def _submit_report(request: Request, body: SubmitIn, idempotency_key: str | None) -> Response:
    settings: Settings = request.app.state.settings
    session: Session = request.app.state.sessions()
    try:
        principal = resolve_principal(request, session)
        reporter = body.reporter or ReporterIn()
        sub = intake.Submission(
            category_code=body.category,
            description=body.description,
            lat=body.lat,
            lon=body.lon,
            accuracy_m=body.accuracy_m,
            address=body.address,
            answers=body.answers,
            name=reporter.name,
            phone=reporter.phone,
            email=reporter.email,
            consent=body.consent,
            consent_purpose=body.consent_purpose,
            media_ids=body.media_ids,
            source="operator" if principal.is_staff else "api",  # staff enter hotline calls and walk-ins
            uploaders=uploader_keys(request, _principal_label(principal)),
        )
        status, payload, replayed = intake.submit_idempotent(
            session,
            settings,
            Actor(principal),
            sub,
            key=idempotency_key,
            fingerprint_payload=body.model_dump() if idempotency_key is not None else None,
            render=submission_body,
        )
    finally:
        session.close()
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


@router.post("/media", status_code=201, response_model=UploadOut)
def upload_media(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    """Upload one photo or short video before submitting; pass the returned ``media_id`` in ``media_ids``.

    Only its uploader may attach it: signed in, the same account; anonymous, the same uploader token
    (an ``HttpOnly`` cookie browsers send back by themselves; other clients send the returned
    ``upload_token`` in the ``X-Upload-Token`` header)."""
    from cityops.media.store import read_capped, store_upload
    from cityops.media.uploads import record_upload, set_uploader_cookie, upload_identity

    data = read_capped(file.file, settings)
    stored = store_upload(settings, session, data, file.filename, file.content_type)
    uploader, token = upload_identity(request, _principal_label(principal))
    record_upload(session, stored.item.id, uploader, stored.gps)
    session.commit()
    if token is not None:
        set_uploader_cookie(response, token, secure=settings.cookie_secure)
    return {
        "media_id": stored.item.id,
        "kind": stored.item.kind,
        "content_type": stored.item.content_type,
        "exif_location": {"lat": stored.gps[0], "lon": stored.gps[1]} if stored.gps else None,
        "upload_token": token,
    }


def _principal_label(principal: Principal) -> str | None:
    """The uploader key of a signed-in principal or API key (None: anonymous)."""
    label = Actor(principal).label
    return None if label == "anon" else label


@router.get("/public", response_model=PublicPage)
def public_list(
    request: Request,
    session: SessionDep,
    page: Annotated[Page, Depends(CASE_PAGE)],
    category: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    area_id: int | None = None,
    bbox: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Public list of cases, newest first; ``q`` searches the descriptions as the public sees them (contact
    details masked), ignoring diacritics. No personal data."""
    from cityops.text import search_key

    query = filtered(public_query(), category, state, area_id, bbox)
    for word in search_key(q or "").split():
        # the masked text's key: a phone hidden as [***] cannot be found digit by digit
        query = query.where(Case.public_key.contains(word, autoescape=True))
    cases = list(session.scalars(page.of(query.order_by(Case.submitted_at.desc(), Case.id.desc()))))
    ctx = public.PublicContext(session, cases, base_url(request))
    return {"total": total(session, query), "items": [public.public_case(c, ctx) for c in cases]}


@router.get("/public.geojson", response_class=GeoJSONResponse, responses=GEOJSON_OK)
def public_geojson(
    request: Request,
    session: SessionDep,
    bbox: str | None = None,
    zoom: Annotated[int | None, Query(ge=0, le=22)] = None,
    category: str | None = None,
    state: Annotated[list[str] | None, Query()] = None,
    cluster_below_zoom: Annotated[int, Query(ge=0, le=22)] = 14,
    limit: Annotated[int, Query(ge=1, le=5000)] = 2000,
) -> Response:
    """Map data for a viewport: points, or grid clusters when ``zoom`` is below ``cluster_below_zoom``."""
    query = filtered(public_query().where(Case.lat.is_not(None)), category, state, None, bbox)
    if zoom is not None and zoom < cluster_below_zoom:
        # clustered in SQL: only one row per grid cell and state comes back
        data = public.clustered_geojson(session, query.whereclause, zoom)
    else:
        data = public.points_geojson(session, query.whereclause, limit, base_url(request))
    return Response(orjson.dumps(data), media_type="application/geo+json")


@router.get("/public/{ref}", response_model=PublicDetailOut)
def public_detail(ref: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """One case as the public sees it, with its public timeline."""
    case = get_case(session, ref)
    if case.hidden:
        raise NotFound(f"No case {ref}")
    return public.public_detail(session, case, base_url(request))


@router.get("/scorecards", response_model=ScorecardOut, responses=success_types(CSV, XLSX))
def scorecards(
    session: SessionDep,
    by: Literal["agency", "area"] = "agency",
    since: date | None = None,
    until: date | None = None,
    area_id: Annotated[int | None, Query(description="Scope unit (default: the province)")] = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """Public scorecards read from the case indicators: whole months, from the month holding ``since`` to
    the month holding ``until`` (local dates; default: this month), of cases submitted in them.
    ``format=csv`` or ``xlsx`` downloads the table."""
    from cityops.indicators import periods
    from cityops.indicators.service import cell_area
    from cityops.reports import scorecards as sc

    today = utcnow().astimezone(LOCAL_TZ).date()
    until = until or today
    since = since or until
    if since > until:
        raise Invalid("since is after until")
    first, last = periods.start_of(since, "month"), periods.start_of(until, "month")
    scope = cell_area(session, area_id).id if area_id is not None else None
    rows = sc.scorecard(session, by, first, last, scope)
    end = periods.following(last, "month") - timedelta(days=1)
    name = f"scorecard-{by}-{first.isoformat()}-{end.isoformat()}"
    if format == "csv":
        return Response(
            sc.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            sc.to_xlsx(rows, f"{by} {first.isoformat()}"),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(
        {
            "by": by,
            "since": first.isoformat(),
            "until": end.isoformat(),
            "area_id": scope,
            "source": "indicators",
            "rows": [asdict(r) for r in rows],
        }
    )

"""Native citizen-report API under ``/api/v1/reports``.

Public: categories, submission (with ``Idempotency-Key``), media upload, the public list/detail/GeoJSON,
tracking by token (reopen, rate, subscribe). Citizens: their history, subscribe, rate. Staff: the inbox,
case detail with the reporter's data when the policy allows, actions, internal notes, bulk assignment,
response templates, media review, scorecards.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from starlette.concurrency import run_in_threadpool

from cityops.clock import LOCAL_TZ, utcnow
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from cityops.identity.deps import CurrentPrincipal, resolve_principal
from cityops.identity.models import Role
from cityops.identity.policy import Action, Principal, can
from cityops.paging import Page, page_params, total
from cityops.reports import followup, handling, intake, public, sla
from cityops.reports.access import Actor, can_note, can_view_personal, supporting_agencies, target
from cityops.reports.models import (
    Case,
    CaseEvent,
    CaseExtension,
    CaseMedia,
    CaseReporter,
    Category,
    ResponseTemplate,
)
from cityops.reports.workflow import CaseAction, State, allowed_actions
from cityops.settings import Settings

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
STRICT = ConfigDict(strict=True, extra="forbid")
MAX_PAGE = 200
CASE_PAGE = page_params(50, MAX_PAGE)


# --- request bodies ------------------------------------------------------------------------------


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


class ActionIn(BaseModel):
    model_config = STRICT
    action: str
    comment: str | None = Field(None, max_length=4000)
    reason: str | None = None
    assignee_id: int | None = None
    agency_id: int | None = None
    hours: float | None = None
    extension_id: int | None = None
    approve: bool | None = None
    master_ref: str | None = None
    after_media_ids: list[int] = Field(default_factory=list, max_length=5)
    template_id: int | None = None


class NoteIn(BaseModel):
    model_config = STRICT
    text: str = Field(max_length=4000)


class BulkAssignIn(BaseModel):
    model_config = STRICT
    refs: list[str] = Field(min_length=1, max_length=200)
    assignee_id: int


class TemplateIn(BaseModel):
    model_config = STRICT
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    action: str | None = None
    agency_id: int | None = None


class RateIn(BaseModel):
    model_config = STRICT
    score: int
    comment: str | None = Field(None, max_length=2000)


class SubscribeIn(BaseModel):
    model_config = STRICT
    channel: Literal["push", "sms", "email"] = "push"
    address: str | None = Field(None, max_length=254)


class CommentIn(BaseModel):
    model_config = STRICT
    comment: str = Field(max_length=4000)


class ReviewIn(BaseModel):
    model_config = STRICT
    state: Literal["pending", "approved", "hidden"]


class RedactIn(BaseModel):
    model_config = STRICT
    # rectangles as [left, top, right, bottom] in pixels of the stored photo
    boxes: list[Annotated[list[int], Field(min_length=4, max_length=4)]] = Field(min_length=1, max_length=50)


class HideIn(BaseModel):
    model_config = STRICT
    hidden: bool


# --- helpers -------------------------------------------------------------------------------------


def _stale() -> Conflict:
    return Conflict(
        "The case was changed by someone else meanwhile; reload it and try again", code="stale_case"
    )


def commit_or_conflict(session: Session) -> None:
    """Commit; a concurrent change to the same case (optimistic lock) answers 409."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise _stale() from None


def get_case(session: Session, ref: str) -> Case:
    case = session.scalar(select(Case).where(Case.ref == ref))
    if case is None:
        raise NotFound(f"No case {ref}")
    return case


def case_for_token(session: Session, token: str) -> Case:
    case = intake.case_by_token(session, token)
    if case is None:
        raise NotFound("No case for this tracking token")
    return case


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def require_staff(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthorized()
    if not principal.is_staff or principal.role is Role.ADMIN:
        raise Forbidden("Only officers, supervisors and operators work cases")


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


def staff_case(session: Session, actor: Actor, case: Case, request: Request) -> dict[str, Any]:
    """Everything staff handling the case see; the reporter block only when the policy allows."""
    body = public.public_detail(session, case, base_url(request))
    body.update(
        {
            "id": case.id,
            # the text as written: the public view masks contact details typed into it
            "description": case.description,
            "address": case.address,
            "status_note": case.public_note,
            "reject_reason": case.reject_reason,
            "agency_id": case.agency_id,
            "assignee_id": case.assignee_id,
            "supporting_agency_ids": sorted(supporting_agencies(session, case)),
            "answers": case.answers,
            "accuracy_m": case.accuracy_m,
            "location_source": case.location_source,
            "source": case.source,
            "hidden": case.hidden,
            "ack_due_at": public.iso(case.ack_due_at),
            "resolve_due_at": public.iso(case.resolve_due_at),
            "warned_at": public.iso(case.warned_at),
            "escalated_at": public.iso(case.escalated_at),
            "consent": case.consent,
            "consent_purpose": case.consent_purpose,
            "allowed_actions": [a.value for a in allowed_actions(State(case.state))],
        }
    )
    body["timeline"] = [
        {
            "id": e.id,
            "at": public.iso(e.at),
            "actor_id": e.actor_id,
            "actor_role": e.actor_role,
            "kind": e.kind,
            "action": e.action,
            "from_state": e.from_state,
            "to_state": e.to_state,
            "public": e.public,
            "comment": e.comment,
            "data": e.data,
        }
        for e in session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    ]
    body["extensions"] = [
        {"id": x.id, "hours": x.hours, "reason": x.reason, "status": x.status, "requested_by": x.requested_by}
        for x in session.scalars(
            select(CaseExtension).where(CaseExtension.case_id == case.id).order_by(CaseExtension.id)
        )
    ]
    from cityops.media.models import MediaItem

    body["all_media"] = [
        {
            "case_media_id": cm.id,
            "media_id": cm.media_id,
            "role": cm.role,
            "review_state": state,
            "kind": kind,
        }
        for cm, state, kind in session.execute(
            select(CaseMedia, MediaItem.review_state, MediaItem.kind)
            .join(MediaItem, MediaItem.id == CaseMedia.media_id)
            .where(CaseMedia.case_id == case.id)
        )
    ]
    if can_view_personal(session, actor, case):
        body["reporters"] = [
            {
                "user_id": r.user_id,
                "name": r.name,
                "phone": r.phone,
                "email": r.email,
                "merged_from_id": r.merged_from_id,
            }
            for r in session.scalars(
                select(CaseReporter).where(CaseReporter.case_id == case.id).order_by(CaseReporter.id)
            )
        ]
    return body


def staff_summary(case: Case, now: datetime) -> dict[str, Any]:
    return {
        "ref": case.ref,
        "state": case.state,
        "category": case.category_code,
        "area_id": case.area_id,
        "agency_id": case.agency_id,
        "assignee_id": case.assignee_id,
        "urgent": case.urgent,
        "submitted_at": public.iso(case.submitted_at),
        "due_at": public.iso(sla.current_due(case)),
        "overdue": case.overdue or sla.is_overdue(case, now),
        "description": case.description[:200],
    }


def local_day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=LOCAL_TZ)


# --- public --------------------------------------------------------------------------------------


@router.get("/categories")
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


@router.post("", status_code=201)
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


@router.post("/media", status_code=201)
def upload_media(
    session: SessionDep, settings: SettingsDep, file: Annotated[UploadFile, File()]
) -> dict[str, Any]:
    """Upload one photo or short video before submitting; pass the returned ``media_id`` in ``media_ids``."""
    from cityops.media.store import read_capped, store_upload

    data = read_capped(file.file, settings)
    stored = store_upload(settings, session, data, file.filename, file.content_type)
    session.commit()
    return {
        "media_id": stored.item.id,
        "kind": stored.item.kind,
        "content_type": stored.item.content_type,
        "exif_location": {"lat": stored.gps[0], "lon": stored.gps[1]} if stored.gps else None,
    }


def _public_query() -> Select[Case]:
    return select(Case).where(Case.hidden.is_(False))


def _filtered(
    query: Select[Case],
    category: str | None,
    state: list[str] | None,
    area_id: int | None,
    bbox: str | None,
) -> Select[Case]:
    if category:
        query = query.where(Case.category_code == category)
    if state:
        query = query.where(Case.state.in_(state))
    if area_id is not None:
        query = query.where(Case.area_id == area_id)
    if bbox:
        try:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox.split(","))
        except ValueError:
            raise Invalid("bbox must be min_lon,min_lat,max_lon,max_lat") from None
        query = query.where(Case.lat.between(min_lat, max_lat), Case.lon.between(min_lon, max_lon))
    return query


@router.get("/public")
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
    """Public list of cases, newest first; ``q`` searches descriptions ignoring diacritics. No personal data."""
    from cityops.text import search_key

    query = _filtered(_public_query(), category, state, area_id, bbox)
    for word in search_key(q or "").split():
        query = query.where(Case.description_key.contains(word, autoescape=True))
    cases = list(session.scalars(page.of(query.order_by(Case.submitted_at.desc(), Case.id.desc()))))
    ctx = public.PublicContext(session, cases, base_url(request))
    return {"total": total(session, query), "items": [public.public_case(c, ctx) for c in cases]}


@router.get("/public.geojson")
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
    query = _filtered(_public_query().where(Case.lat.is_not(None)), category, state, None, bbox)
    if zoom is not None and zoom < cluster_below_zoom:
        # clustered in SQL: only one row per grid cell and state comes back
        data = public.clustered_geojson(session, query.whereclause, zoom)
    else:
        data = public.points_geojson(session, query.whereclause, limit, base_url(request))
    return Response(orjson.dumps(data), media_type="application/geo+json")


@router.get("/public/{ref}")
def public_detail(ref: str, request: Request, session: SessionDep) -> dict[str, Any]:
    """One case as the public sees it, with its public timeline."""
    case = get_case(session, ref)
    if case.hidden:
        raise NotFound(f"No case {ref}")
    return public.public_detail(session, case, base_url(request))


# --- reporters (token or signed in) ---------------------------------------------------------------


@router.get("/track/{token}")
def track(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The reporter's view of their case through the tracking token."""
    case = case_for_token(session, token)
    body = public.public_detail(session, case, base_url(request))
    since = case.resolved_at or case.closed_at
    body["can_reopen"] = (
        case.state in ("resolved", "closed")
        and since is not None
        and utcnow() <= since + timedelta(days=settings.reports_reopen_days)
    )
    body["can_rate"] = case.state in followup.RATEABLE
    return body


@router.post("/track/{token}/reopen")
def track_reopen(
    token: str, body: CommentIn, request: Request, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    case = case_for_token(session, token)
    actor = Actor(Principal.anonymous(), token_case_id=case.id)
    handling.perform(
        session, settings, actor, case, handling.ActionRequest(CaseAction.REOPEN, comment=body.comment)
    )
    session.commit()
    return public.public_detail(session, case, base_url(request))


@router.post("/track/{token}/rate", status_code=201)
def track_rate(token: str, body: RateIn, session: SessionDep) -> dict[str, Any]:
    case = case_for_token(session, token)
    rating = followup.rate(
        session, Actor(Principal.anonymous(), token_case_id=case.id), case, body.score, body.comment
    )
    session.commit()
    return {"ref": case.ref, "score": rating.score}


@router.post("/track/{token}/subscribe", status_code=201)
def track_subscribe(
    token: str, body: SubscribeIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    case = case_for_token(session, token)
    followup.subscribe(
        session, Actor(principal, token_case_id=case.id), case, channel=body.channel, address=body.address
    )
    session.commit()
    return {"ref": case.ref, "subscribed": True}


@router.get("/mine")
def my_reports(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Annotated[Page, Depends(CASE_PAGE)],
) -> dict[str, Any]:
    """A signed-in citizen's reports."""
    if principal.user_id is None:
        raise Unauthorized("Sign in to see your reports")
    cases = followup.my_cases(session, principal.user_id, limit=page.limit, offset=page.offset)
    ctx = public.PublicContext(session, cases, base_url(request))
    return {"items": [public.public_case(c, ctx) for c in cases]}


@router.get("/mine/export")
def export_my_data(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Everything the reports hold about the signed-in citizen (their own contact details included)."""
    if principal.user_id is None:
        raise Unauthorized("Sign in to export your data")
    return followup.export_personal_data(session, principal.user_id)


@router.delete("/mine/personal-data")
def erase_my_data(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Erase the signed-in citizen's contact details from their reports; the reports stay, anonymous."""
    if principal.user_id is None:
        raise Unauthorized("Sign in to erase your data")
    from cityops.reports import integrations

    count = followup.erase_personal_data(session, Actor(principal), principal.user_id)
    integrations.audit(
        session,
        Actor(principal),
        "reports.erase_personal_data",
        principal.user_id,
        after={"reporter_records": count},
        target_type="user",
    )
    session.commit()
    return {"erased_reports": count}


@router.post("/cases/{ref}/subscribe", status_code=201)
def subscribe(
    ref: str, body: SubscribeIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Follow a case (signed in, or with an address for SMS/e-mail)."""
    case = get_case(session, ref)
    if case.hidden:
        raise NotFound(f"No case {ref}")
    followup.subscribe(session, Actor(principal), case, channel=body.channel, address=body.address)
    session.commit()
    return {"ref": case.ref, "subscribed": True}


@router.post("/cases/{ref}/rate", status_code=201)
def rate_case(ref: str, body: RateIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The signed-in reporter rates the handling 1–5."""
    if principal.is_anonymous:
        raise Unauthorized()
    case = get_case(session, ref)
    rating = followup.rate(session, Actor(principal), case, body.score, body.comment)
    session.commit()
    return {"ref": case.ref, "score": rating.score}


# --- staff ---------------------------------------------------------------------------------------


@router.get("/inbox")
def inbox(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: Annotated[Page, Depends(CASE_PAGE)],
    state: Annotated[list[str] | None, Query()] = None,
    overdue: bool | None = None,
    category: str | None = None,
    area_id: int | None = None,
    agency_id: int | None = None,
    assignee: Literal["me", "none"] | None = None,
    since: date | None = None,
    until: date | None = None,
    q: str | None = None,
) -> dict[str, Any]:
    """Cases of the officer's agencies (lead or supporting); the operator sees every case and the
    dispatcher queue (``agency_id`` unset → filter with ``agency_id=0``)."""
    require_staff(principal)
    from cityops.reports.models import CaseAgency
    from cityops.text import search_key

    query = select(Case)
    if principal.role is not Role.OPERATOR:
        mine = list(principal.agency_ids)
        supporting = select(CaseAgency.case_id).where(CaseAgency.agency_id.in_(mine))
        query = query.where(or_(Case.agency_id.in_(mine), Case.id.in_(supporting)))
    if agency_id is not None:
        query = query.where(Case.agency_id.is_(None) if agency_id == 0 else Case.agency_id == agency_id)
    query = _filtered(query, category, state, area_id, None)
    if overdue is not None:
        query = query.where(Case.overdue.is_(overdue))
    if assignee == "me":
        query = query.where(Case.assignee_id == principal.user_id)
    elif assignee == "none":
        query = query.where(Case.assignee_id.is_(None))
    if since is not None:
        query = query.where(Case.submitted_at >= local_day_start(since))
    if until is not None:
        query = query.where(Case.submitted_at < local_day_start(until + timedelta(days=1)))
    if q:
        for word in search_key(q).split():
            query = query.where(Case.description_key.contains(word, autoescape=True))
    cases = session.scalars(page.of(query.order_by(Case.overdue.desc(), Case.resolve_due_at.asc(), Case.id)))
    now = utcnow()
    return {"total": total(session, query), "items": [staff_summary(c, now) for c in cases]}


def _staff_actor(session: Session, principal: Principal, case: Case) -> Actor:
    actor = Actor(principal)
    if not (
        can_view_personal(session, actor, case)
        or can(principal, Action.CASE_MODERATE, target(session, actor, case))
    ):
        if principal.is_anonymous:
            raise Unauthorized()
        raise Forbidden("This case is not handled by your agency")
    return actor


@router.get("/cases/{ref}")
def case_detail(
    ref: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Staff view of a case: full timeline with internal notes; reporter details if allowed."""
    require_staff(principal)
    case = get_case(session, ref)
    actor = _staff_actor(session, principal, case)
    return staff_case(session, actor, case, request)


@router.post("/cases/{ref}/actions")
def case_action(
    ref: str,
    body: ActionIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Move a case: ``acknowledge``, ``assign``, ``start``, ``resolve``, ``close``, ``reject``, ``reopen``,
    ``transfer``, ``return``, ``add_support``, ``request_extension``, ``decide_extension``, ``merge``.
    An action the state does not allow answers 409 with the allowed ones."""
    if principal.is_anonymous:
        raise Unauthorized()
    try:
        action = CaseAction(body.action)
    except ValueError:
        raise Invalid(
            f"Unknown action '{body.action}'", details={"allowed": [a.value for a in CaseAction]}
        ) from None
    case = get_case(session, ref)
    comment = body.comment
    if body.template_id is not None:
        template = session.get(ResponseTemplate, body.template_id)
        if template is None:
            raise Invalid("Unknown response template")
        comment = template.body if not comment else f"{template.body}\n\n{comment}"
    master_id = None
    if body.master_ref is not None:
        master_id = get_case(session, body.master_ref).id
    req = handling.ActionRequest(
        action,
        comment=comment,
        reason=body.reason,
        assignee_id=body.assignee_id,
        agency_id=body.agency_id,
        hours=body.hours,
        extension_id=body.extension_id,
        approve=body.approve,
        master_id=master_id,
        after_media=body.after_media_ids,
    )
    actor = Actor(principal)
    try:
        handling.perform(session, settings, actor, case, req)
    except StaleDataError:
        session.rollback()
        raise _stale() from None
    commit_or_conflict(session)
    if principal.is_staff:
        return staff_case(session, actor, case, request)
    return public.public_detail(session, case, base_url(request))


@router.post("/cases/{ref}/notes", status_code=201)
def add_note(ref: str, body: NoteIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """An internal note: visible to staff handling the case, never public."""
    require_staff(principal)
    case = get_case(session, ref)
    actor = Actor(principal)
    if not can_note(session, actor, case):
        raise Forbidden("This case is not handled by your agency")
    handling.add_note(session, actor, case, body.text)
    session.commit()
    return {"ref": case.ref, "noted": True}


@router.post("/bulk-assign")
def bulk_assign(
    body: BulkAssignIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Assign several cases to one officer; all or nothing."""
    require_staff(principal)
    actor = Actor(principal)
    cases = [get_case(session, ref) for ref in dict.fromkeys(body.refs)]
    try:
        for case in cases:
            if case.state == State.SUBMITTED.value:
                handling.perform(
                    session, settings, actor, case, handling.ActionRequest(CaseAction.ACKNOWLEDGE)
                )
            handling.perform(
                session,
                settings,
                actor,
                case,
                handling.ActionRequest(CaseAction.ASSIGN, assignee_id=body.assignee_id),
            )
    except StaleDataError:
        session.rollback()
        raise _stale() from None
    commit_or_conflict(session)
    return {"assigned": [c.ref for c in cases], "assignee_id": body.assignee_id}


@router.get("/templates")
def list_templates(
    session: SessionDep, principal: CurrentPrincipal, action: str | None = None
) -> list[dict[str, Any]]:
    """Response templates of the officer's agencies plus the shared ones."""
    require_staff(principal)
    query = select(ResponseTemplate).where(
        or_(ResponseTemplate.agency_id.is_(None), ResponseTemplate.agency_id.in_(list(principal.agency_ids)))
    )
    if action:
        query = query.where(ResponseTemplate.action == action)
    return [
        {"id": t.id, "title": t.title, "body": t.body, "action": t.action, "agency_id": t.agency_id}
        for t in session.scalars(query.order_by(ResponseTemplate.id))
    ]


@router.post("/templates", status_code=201)
def create_template(body: TemplateIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Supervisors add templates for their agency; operators shared ones."""
    require_staff(principal)
    from cityops.text import nfc

    if body.agency_id is None and principal.role is not Role.OPERATOR:
        raise Forbidden("Only operators create shared templates")
    if body.agency_id is not None and not (
        principal.role is Role.OPERATOR
        or (principal.role is Role.SUPERVISOR and body.agency_id in principal.agency_ids)
    ):
        raise Forbidden("Only a supervisor of the agency creates its templates")
    if body.action is not None and body.action not in {a.value for a in CaseAction}:
        raise Invalid("Unknown action for the template")
    template = ResponseTemplate(
        agency_id=body.agency_id, action=body.action, title=nfc(body.title), body=nfc(body.body)
    )
    session.add(template)
    session.commit()
    return {"id": template.id, "title": template.title}


@router.post("/cases/{ref}/media/{media_id}/review")
def review_media(
    ref: str, media_id: int, body: ReviewIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Publish (approve), hide or reset a case photo. Redaction: ``POST /api/v1/media/...`` of the media capability."""
    require_staff(principal)
    case = get_case(session, ref)
    actor = Actor(principal)
    if not (
        can_note(session, actor, case) or can(principal, Action.CASE_MODERATE, target(session, actor, case))
    ):
        raise Forbidden("This case is not handled by your agency")
    link = session.scalar(
        select(CaseMedia).where(CaseMedia.case_id == case.id, CaseMedia.media_id == media_id)
    )
    if link is None:
        raise NotFound("This media does not belong to the case")
    from cityops.media.store import set_review_state
    from cityops.reports import integrations

    item = set_review_state(session, media_id, body.state)
    integrations.audit(
        session, actor, "case.media_review", case.id, after={"media_id": media_id, "state": body.state}
    )
    session.commit()
    return {"media_id": item.id, "review_state": item.review_state}


@router.post("/cases/{ref}/media/{media_id}/redact")
def redact_media(
    ref: str,
    media_id: int,
    body: RedactIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Blur regions (faces, number plates) of a case photo; the public then sees only the blurred copy."""
    require_staff(principal)
    case = get_case(session, ref)
    actor = Actor(principal)
    if not (
        can_note(session, actor, case) or can(principal, Action.CASE_MODERATE, target(session, actor, case))
    ):
        raise Forbidden("This case is not handled by your agency")
    link = session.scalar(
        select(CaseMedia).where(CaseMedia.case_id == case.id, CaseMedia.media_id == media_id)
    )
    if link is None:
        raise NotFound("This media does not belong to the case")
    from cityops.media.store import redact
    from cityops.reports import integrations

    item = redact(settings, session, media_id, [(b[0], b[1], b[2], b[3]) for b in body.boxes])
    integrations.audit(
        session, actor, "case.media_redact", case.id, after={"media_id": media_id, "boxes": body.boxes}
    )
    session.commit()
    return {"media_id": item.id, "review_state": item.review_state}


@router.post("/cases/{ref}/visibility")
def set_visibility(
    ref: str, body: HideIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Moderation: hide a case from every public view (or show it again)."""
    case = get_case(session, ref)
    actor = Actor(principal)
    if not can(principal, Action.CASE_MODERATE, target(session, actor, case)):
        if principal.is_anonymous:
            raise Unauthorized()
        raise Forbidden("You may not moderate this case")
    from cityops.reports import integrations

    before = {"hidden": case.hidden}
    case.hidden = body.hidden
    integrations.audit(
        session, actor, "case.visibility", case.id, before=before, after={"hidden": case.hidden}
    )
    session.commit()
    return {"ref": case.ref, "hidden": case.hidden}


@router.get("/scorecards")
def scorecards(
    session: SessionDep,
    settings: SettingsDep,
    by: Literal["agency", "area"] = "agency",
    since: date | None = None,
    until: date | None = None,
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """Public scorecards over cases submitted between ``since`` and ``until`` (local dates, inclusive;
    default: the last 30 days). ``format=csv`` or ``xlsx`` downloads the table."""
    from cityops.reports import scorecards as sc

    today = utcnow().astimezone(LOCAL_TZ).date()
    until = until or today
    since = since or until - timedelta(days=29)
    if since > until:
        raise Invalid("since is after until")
    rows = sc.scorecard(
        session, settings, by, local_day_start(since), local_day_start(until + timedelta(days=1))
    )
    name = f"scorecard-{by}-{since.isoformat()}-{until.isoformat()}"
    if format == "csv":
        return Response(
            sc.to_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            sc.to_xlsx(rows, f"{by} {since.isoformat()}"),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    from dataclasses import asdict

    return JSONResponse(
        {"by": by, "since": since.isoformat(), "until": until.isoformat(), "rows": [asdict(r) for r in rows]}
    )

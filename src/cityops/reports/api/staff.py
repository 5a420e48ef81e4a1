"""The report routes of staff handling cases: the inbox, the case with its reporter's data when the policy
allows, actions, internal notes, bulk assignment, response templates, media review and redaction, and
moderation (visibility)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cityops.clock import utcnow
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import Forbidden, Invalid, NotFound, Unauthorized
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.models import Membership, Role, User
from cityops.identity.policy import Action, Principal, can
from cityops.media.uploads import uploader_keys
from cityops.paging import Page, total
from cityops.reports import handling, public, sla
from cityops.reports.access import (
    POLICY_FOR,
    Actor,
    can_note,
    can_view_personal,
    may_see_restricted,
    supporting_agencies,
    target,
)
from cityops.reports.api.cases import (
    CASE_PAGE,
    PREFIX,
    STRICT,
    base_url,
    commit_or_conflict,
    filtered,
    get_case,
    local_day_start,
    stale_conflict,
)
from cityops.reports.api.schemas import (
    AssignedOut,
    InboxPage,
    MediaStateOut,
    NotedOut,
    PublicDetailOut,
    StaffCaseOut,
    TemplateCreatedOut,
    TemplateOut,
    VisibilityOut,
)
from cityops.reports.models import (
    Case,
    CaseEvent,
    CaseExtension,
    CaseMedia,
    CaseReporter,
    ResponseTemplate,
)
from cityops.reports.references import usable_template
from cityops.reports.workflow import CaseAction, State, allowed_actions

router = APIRouter(prefix=PREFIX, tags=["reports"])


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


def require_staff(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthorized()
    if not principal.is_staff or principal.role is Role.ADMIN:
        raise Forbidden("Only officers, supervisors and operators work cases")


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
            "allowed_actions": offered_actions(session, actor, case),
        }
    )
    if "assign" in body["allowed_actions"]:
        body["assignees"] = assignees(session, case)
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


def offered_actions(session: Session, actor: Actor, case: Case) -> list[str]:
    """The actions the state machine allows from the case's state that this actor may take (screens offer
    these, in the table's order)."""
    tgt = target(session, actor, case)
    return [
        a.value
        for a in allowed_actions(State(case.state))
        if (a is CaseAction.REOPEN and actor.token_case_id == case.id)
        or can(actor.principal, POLICY_FOR[a], tgt)
    ]


MAX_ASSIGNEES = 200


def assignees(session: Session, case: Case) -> list[dict[str, Any]]:
    """Who the case may be assigned to: the active officers and supervisors of the lead agency (bounded)."""
    if case.agency_id is None:
        return []
    rows = session.scalars(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.agency_id == case.agency_id,
            User.is_active.is_(True),
            User.role.in_([Role.OFFICER, Role.SUPERVISOR]),
        )
        .order_by(User.full_name, User.id)
        .limit(MAX_ASSIGNEES)
    )
    return [{"id": u.id, "name": u.full_name or u.username or str(u.id), "role": u.role.value} for u in rows]


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


@router.get("/inbox", response_model=InboxPage)
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
    query = filtered(query, category, state, area_id, None)
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


def _visible_case(session: Session, principal: Principal, ref: str) -> Case:
    """The case, unless it is of a restricted category the caller may not see: then 404, as if absent."""
    case = get_case(session, ref)
    if not may_see_restricted(session, Actor(principal), case):
        raise NotFound(f"No case {ref}")
    return case


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


@router.get("/cases/{ref}", response_model=StaffCaseOut, response_model_exclude_unset=True)
def case_detail(
    ref: str, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Staff view of a case: full timeline with internal notes; reporter details if allowed."""
    require_staff(principal)
    case = _visible_case(session, principal, ref)
    actor = _staff_actor(session, principal, case)
    return staff_case(session, actor, case, request)


@router.post(
    "/cases/{ref}/actions",
    response_model=StaffCaseOut | PublicDetailOut,
    response_model_exclude_unset=True,
)
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
    case = _visible_case(session, principal, ref)
    comment = body.comment
    if body.template_id is not None:
        template = usable_template(session, principal, body.template_id)
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
        uploaders=uploader_keys(request, None),
    )
    actor = Actor(principal)
    try:
        handling.perform(session, settings, actor, case, req)
    except StaleDataError:
        session.rollback()
        raise stale_conflict() from None
    commit_or_conflict(session)
    if principal.is_staff:
        return staff_case(session, actor, case, request)
    return public.public_detail(session, case, base_url(request))


@router.post("/cases/{ref}/notes", status_code=201, response_model=NotedOut)
def add_note(ref: str, body: NoteIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """An internal note: visible to staff handling the case, never public."""
    require_staff(principal)
    case = _visible_case(session, principal, ref)
    actor = Actor(principal)
    if not can_note(session, actor, case):
        raise Forbidden("This case is not handled by your agency")
    handling.add_note(session, actor, case, body.text)
    session.commit()
    return {"ref": case.ref, "noted": True}


@router.post("/bulk-assign", response_model=AssignedOut)
def bulk_assign(
    body: BulkAssignIn, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Assign several cases to one officer; all or nothing."""
    require_staff(principal)
    actor = Actor(principal)
    cases = [_visible_case(session, principal, ref) for ref in dict.fromkeys(body.refs)]
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
        raise stale_conflict() from None
    commit_or_conflict(session)
    return {"assigned": [c.ref for c in cases], "assignee_id": body.assignee_id}


@router.get("/templates", response_model=list[TemplateOut])
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


@router.post("/templates", status_code=201, response_model=TemplateCreatedOut)
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


def _case_media(session: Session, principal: Principal, ref: str, media_id: int) -> tuple[Case, Actor]:
    """The case of a media review or redaction and who acts: staff handling or moderating the case; 404
    when the media is not the case's."""
    require_staff(principal)
    case = _visible_case(session, principal, ref)
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
    return case, actor


@router.post("/cases/{ref}/media/{media_id}/review", response_model=MediaStateOut)
def review_media(
    ref: str, media_id: int, body: ReviewIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Publish (approve), hide or reset a case photo. Redaction: ``POST /api/v1/media/...`` of the media capability."""
    case, actor = _case_media(session, principal, ref, media_id)
    from cityops.media.store import set_review_state
    from cityops.reports import integrations

    item = set_review_state(session, media_id, body.state)
    integrations.audit(
        session, actor, "case.media_review", case.id, after={"media_id": media_id, "state": body.state}
    )
    session.commit()
    return {"media_id": item.id, "review_state": item.review_state}


@router.post("/cases/{ref}/media/{media_id}/redact", response_model=MediaStateOut)
def redact_media(
    ref: str,
    media_id: int,
    body: RedactIn,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Blur regions (faces, number plates) of a case photo; the public then sees only the blurred copy."""
    case, actor = _case_media(session, principal, ref, media_id)
    from cityops.media.store import redact
    from cityops.reports import integrations

    item = redact(settings, session, media_id, [(b[0], b[1], b[2], b[3]) for b in body.boxes])
    integrations.audit(
        session, actor, "case.media_redact", case.id, after={"media_id": media_id, "boxes": body.boxes}
    )
    session.commit()
    return {"media_id": item.id, "review_state": item.review_state}


@router.post("/cases/{ref}/visibility", response_model=VisibilityOut)
def set_visibility(
    ref: str, body: HideIn, session: SessionDep, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Moderation: hide a case from every public view (or show it again)."""
    case = _visible_case(session, principal, ref)
    actor = Actor(principal)
    if not can(principal, Action.CASE_MODERATE, target(session, actor, case)):
        if principal.is_anonymous:
            raise Unauthorized()
        raise Forbidden("You may not moderate this case")
    from cityops.reports import integrations
    from cityops.reports.categories import restricted_codes

    if not body.hidden and case.category_code in restricted_codes():
        raise Invalid(
            "A case of a restricted category (public order) is never shown publicly",
            code="restricted_category",
        )
    before = {"hidden": case.hidden}
    case.hidden = body.hidden
    integrations.audit(
        session, actor, "case.visibility", case.id, before=before, after={"hidden": case.hidden}
    )
    session.commit()
    return {"ref": case.ref, "hidden": case.hidden}

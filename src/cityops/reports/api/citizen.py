"""The report routes of reporters: following a case through its tracking token (reopen, rate, subscribe)
and, signed in, their own reports, their data's export and erasure, subscribing to and rating a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.deps import SessionDep, SettingsDep
from cityops.errors import NotFound, Unauthorized
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Principal
from cityops.paging import Page
from cityops.reports import followup, handling, public
from cityops.reports.access import Actor
from cityops.reports.api.cases import (
    CASE_PAGE,
    PREFIX,
    STRICT,
    base_url,
    case_for_token,
    get_case,
)
from cityops.reports.api.schemas import (
    ErasedOut,
    MyCasesOut,
    PersonalDataOut,
    PublicDetailOut,
    RatingOut,
    SubscribedOut,
    TokenOut,
    TrackOut,
)
from cityops.reports.models import Case
from cityops.reports.workflow import CaseAction
from cityops.settings import Settings

router = APIRouter(prefix=PREFIX, tags=["reports"])
CODE_SENT: dict[int | str, dict[str, Any]] = {
    202: {
        "model": SubscribedOut,
        "description": "A code was sent to the typed address; confirm it with `.../subscribe/confirm`.",
    }
}


class RateIn(BaseModel):
    model_config = STRICT
    score: int
    comment: str | None = Field(None, max_length=2000)


class SubscribeIn(BaseModel):
    model_config = STRICT
    channel: Literal["push", "sms", "email"] = "push"
    address: str | None = Field(None, max_length=254)


class ConfirmIn(BaseModel):
    model_config = STRICT
    channel: Literal["sms", "email"]
    address: str = Field(max_length=254)
    code: str = Field(max_length=12)


class CommentIn(BaseModel):
    model_config = STRICT
    comment: str = Field(max_length=4000)


@router.get("/track/{token}", response_model=TrackOut)
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


@router.post("/track/{token}/reopen", response_model=PublicDetailOut)
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


@router.post("/track/{token}/rate", status_code=201, response_model=RatingOut)
def track_rate(token: str, body: RateIn, session: SessionDep) -> dict[str, Any]:
    case = case_for_token(session, token)
    rating = followup.rate(
        session, Actor(Principal.anonymous(), token_case_id=case.id), case, body.score, body.comment
    )
    session.commit()
    return {"ref": case.ref, "score": rating.score}


@router.post(
    "/track/{token}/subscribe",
    status_code=201,
    response_model=SubscribedOut,
    response_model_exclude_unset=True,
    responses=CODE_SENT,
)
def track_subscribe(
    token: str,
    body: SubscribeIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Follow the case; a typed phone or e-mail address first gets a code (202) to confirm it with."""
    case = case_for_token(session, token)
    return _subscribe(
        session, settings, Actor(principal, token_case_id=case.id), case, body, request, response
    )


@router.post(
    "/track/{token}/subscribe/confirm",
    status_code=201,
    response_model=SubscribedOut,
    response_model_exclude_unset=True,
)
def track_subscribe_confirm(
    token: str, body: ConfirmIn, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Confirm a typed address with the code sent to it."""
    return _confirm(session, settings, case_for_token(session, token), body)


@router.post("/track/{token}/rotate", response_model=TokenOut)
def track_rotate(token: str, session: SessionDep) -> dict[str, Any]:
    """A new tracking token for the case; this one stops working at once (a link that leaked)."""
    from cityops.reports import intake, integrations

    case = case_for_token(session, token)
    fresh = intake.rotate_token(session, case.id)
    integrations.audit(
        session, Actor(Principal.anonymous(), token_case_id=case.id), "case.token_rotate", case.id
    )
    session.commit()
    return {"ref": case.ref, "token": fresh}


def _subscribe(
    session: Session,
    settings: Settings,
    actor: Actor,
    case: Case,
    body: SubscribeIn,
    request: Request,
    response: Response,
) -> dict[str, Any]:
    done = followup.subscribe(
        session,
        settings,
        actor,
        case,
        channel=body.channel,
        address=body.address,
        client_ip=request.client.host if request.client else None,
    )
    session.commit()
    if done.verification_sent:
        response.status_code = 202
        return {"ref": case.ref, "subscribed": False, "verification": "sent"}
    return {"ref": case.ref, "subscribed": True}


def _confirm(session: Session, settings: Settings, case: Case, body: ConfirmIn) -> dict[str, Any]:
    try:
        followup.confirm(session, settings, case, channel=body.channel, address=body.address, code=body.code)
    finally:
        session.commit()  # a wrong entry counts even though the request fails
    return {"ref": case.ref, "subscribed": True}


@router.get("/mine", response_model=MyCasesOut)
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


@router.get("/mine/export", response_model=PersonalDataOut)
def export_my_data(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """Everything the reports hold about the signed-in citizen (their own contact details included)."""
    if principal.user_id is None:
        raise Unauthorized("Sign in to export your data")
    return followup.export_personal_data(session, principal.user_id)


@router.delete("/mine/personal-data", response_model=ErasedOut)
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


@router.post(
    "/cases/{ref}/subscribe",
    status_code=201,
    response_model=SubscribedOut,
    response_model_exclude_unset=True,
    responses=CODE_SENT,
)
def subscribe(
    ref: str,
    body: SubscribeIn,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    """Follow a case: signed in, at once (201); with a typed SMS/e-mail address, once confirmed with the code
    sent to it (202, then ``POST .../subscribe/confirm``)."""
    case = _followable(session, ref)
    return _subscribe(session, settings, Actor(principal), case, body, request, response)


@router.post(
    "/cases/{ref}/subscribe/confirm",
    status_code=201,
    response_model=SubscribedOut,
    response_model_exclude_unset=True,
)
def subscribe_confirm(
    ref: str, body: ConfirmIn, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Confirm a typed address with the code sent to it."""
    return _confirm(session, settings, _followable(session, ref), body)


def _followable(session: Session, ref: str) -> Case:
    case = get_case(session, ref)
    if case.hidden:
        raise NotFound(f"No case {ref}")
    return case


@router.post("/cases/{ref}/rate", status_code=201, response_model=RatingOut)
def rate_case(ref: str, body: RateIn, session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    """The signed-in reporter rates the handling 1–5."""
    if principal.is_anonymous:
        raise Unauthorized()
    case = get_case(session, ref)
    rating = followup.rate(session, Actor(principal), case, body.score, body.comment)
    session.commit()
    return {"ref": case.ref, "score": rating.score}

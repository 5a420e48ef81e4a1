"""The report routes of reporters: following a case through its tracking token (reopen, rate, subscribe)
and, signed in, their own reports, their data's export and erasure, subscribing to and rating a case."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

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
from cityops.reports.workflow import CaseAction

router = APIRouter(prefix=PREFIX, tags=["reports"])


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

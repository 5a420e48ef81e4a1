"""``/api/v1/privacy``: a citizen's own data export and account deletion."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from cityops.deps import SessionDep
from cityops.errors import Unauthorized
from cityops.identity.deps import CurrentPrincipal
from cityops.privacy import service

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


class ExportOut(BaseModel):
    """The export: when it was made, then one key per capability declaring personal data (its own shape)."""

    model_config = ConfigDict(extra="allow")
    exported_at: str


@router.get(
    "/export",
    summary="Everything cityops holds about the signed-in user (JSON)",
    response_model=ExportOut,
)
def export_my_data(session: SessionDep, principal: CurrentPrincipal) -> dict[str, Any]:
    if principal.user_id is None:
        raise Unauthorized("Sign in to export your data")
    return service.export_all(session, principal.user_id)


@router.delete(
    "/account",
    summary="Delete the signed-in citizen's account (reports stay, anonymous); answers the records erased "
    "per kind",
)
def delete_my_account(session: SessionDep, principal: CurrentPrincipal, request: Request) -> dict[str, int]:
    if principal.user_id is None:
        raise Unauthorized("Sign in to delete your account")
    done = service.delete_account(session, principal)
    session.commit()
    return dict(done.erased)

"""Who may see a case photo: the media routes ask this policy (installed on ``app.state.media_access``).

- anyone: the public variants of reviewed media (approved, or the redacted copy), unless every case the
  media belongs to is hidden by moderation;
- staff handling a case the media belongs to (lead or supporting agency, the operator), and moderators:
  every variant, including pending, hidden and unredacted originals.
Refusals answer 404 (the media routes' rule), so hidden media does not reveal it exists.
"""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.identity.deps import resolve_principal
from cityops.identity.policy import Action, can
from cityops.media.api import Variant, public_only
from cityops.media.models import MediaItem
from cityops.reports.access import Actor, can_note, target
from cityops.reports.models import Case, CaseMedia


def case_media_access(request: Request, session: Session, item: MediaItem, variant: Variant) -> bool:
    cases = list(
        session.scalars(
            select(Case).join(CaseMedia, CaseMedia.case_id == Case.id).where(CaseMedia.media_id == item.id)
        )
    )
    if public_only(request, session, item, variant) and (not cases or any(not c.hidden for c in cases)):
        return True
    principal = resolve_principal(request, session)
    if not principal.is_staff:
        return False
    actor = Actor(principal)
    return any(
        can_note(session, actor, case) or can(principal, Action.CASE_MODERATE, target(session, actor, case))
        for case in cases
    )

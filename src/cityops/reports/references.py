"""Every id a request names is checked against what the caller may use, in one place.

A request that names a media item, a second case or a response template borrows it: the photo's content
and EXIF position, the other case's timeline and followers, another agency's wording. Ids are sequential
and refs public, so naming one proves nothing (#21 findings 2, 3 and 7). The routes pass every such id
through these checks before anything is written:

- :func:`usable_media`: media the caller uploaded (``cityops.media.uploads``), for a report's ``media_ids``
  and a resolution's ``after_media_ids``. Someone else's item answers exactly as an unknown one (422
  ``unknown_media``), so ids cannot be probed;
- :func:`require_on_both`: a two-case operation (merge) needs the permission on *both* cases;
- :func:`usable_template`: a response template of the caller's agencies, or a shared one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from cityops.errors import Forbidden, Invalid
from cityops.identity.models import Role
from cityops.identity.policy import Action, Principal, can
from cityops.media.models import MediaItem, MediaUpload
from cityops.media.uploads import uploaded_by
from cityops.reports.access import Actor, target
from cityops.reports.models import Case, ResponseTemplate


def usable_media(
    session: Session, media_ids: Sequence[int], uploaders: Iterable[str]
) -> list[tuple[MediaItem, MediaUpload]]:
    """Each of ``media_ids`` with the upload proving the caller uploaded it; 422 ``unknown_media`` for an
    id that does not exist or that none of ``uploaders`` uploaded (the same answer: no probing)."""
    if len(set(media_ids)) != len(media_ids):
        raise Invalid("A media item is attached twice")
    proofs = uploaded_by(session, media_ids, uploaders)
    out = []
    for media_id in media_ids:
        proof = proofs.get(media_id)
        item = session.get(MediaItem, media_id) if proof is not None else None
        if proof is None or item is None:
            raise Invalid(
                "Unknown media id: upload the file first, from the same device or account",
                code="unknown_media",
                details={"media_id": media_id},
            )
        out.append((item, proof))
    return out


def require_on_both(
    session: Session, actor: Actor, action: Action, case: Case, other: Case, what: str
) -> None:
    """403 unless ``actor`` may do ``action`` on ``case`` and on ``other`` (merge: the duplicate and the
    master, whose timeline, reporters and followers change)."""
    for one in (case, other):
        if not can(actor.principal, action, target(session, actor, one)):
            raise Forbidden(
                f"You may not {what} case {one.ref}: it is not handled by your agency",
                code="forbidden_reference",
                details={"ref": one.ref},
            )


def usable_template(session: Session, principal: Principal, template_id: int) -> ResponseTemplate:
    """A response template the caller may use: shared, or of one of their agencies (operators: any)."""
    template = session.get(ResponseTemplate, template_id)
    if template is None or not (
        template.agency_id is None
        or principal.role is Role.OPERATOR
        or template.agency_id in principal.agency_ids
    ):
        raise Invalid("Unknown response template", code="unknown_template")
    return template

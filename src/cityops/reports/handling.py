"""Working a case: every action goes through :func:`perform`, which checks the state table
(:mod:`~cityops.reports.workflow`), the permission rule, the action's own requirements, then writes the
change, the timeline entry, the audit record, the outbox event and the subscribers' notifications.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import Conflict, Forbidden, Invalid, NotFound
from cityops.identity.policy import Action
from cityops.reports import integrations, sla, timeline
from cityops.reports.access import Actor, case_permission, is_handler
from cityops.reports.models import (
    Case,
    CaseAgency,
    CaseExtension,
    CaseMedia,
    CaseReporter,
    CaseSubscription,
)
from cityops.reports.references import require_on_both, usable_media
from cityops.reports.workflow import TRANSITIONS, CaseAction, RejectReason, State, target_state
from cityops.settings import Settings
from cityops.text import nfc

# Transitions whose timeline entry the public sees (inter-agency bookkeeping stays internal).
INTERNAL_ACTIONS = frozenset(
    {
        CaseAction.TRANSFER,
        CaseAction.RETURN,
        CaseAction.ADD_SUPPORT,
        CaseAction.REQUEST_EXTENSION,
        CaseAction.DECIDE_EXTENSION,
    }
)
MAX_EXTENSION_HOURS = 400.0


@dataclass
class ActionRequest:
    """What an actor asks to do, with the parameters the action needs."""

    action: CaseAction
    comment: str | None = None
    reason: str | None = None  # reject reason
    assignee_id: int | None = None
    agency_id: int | None = None  # transfer target or supporting agency
    hours: float | None = None  # extension
    extension_id: int | None = None
    approve: bool | None = None
    master_id: int | None = None  # merge into
    after_media: list[int] = field(default_factory=list)  # cityops.media ids of after-photos
    uploaders: tuple[str, ...] = ()  # anonymous uploader keys the request presents (besides the actor)


def _agency_exists(session: Session, agency_id: int) -> bool:
    from cityops.identity.models import Agency

    return session.get(Agency, agency_id) is not None


def _is_member(session: Session, user_id: int, agency_id: int) -> bool:
    from cityops.identity.models import Membership, Role, User

    row = session.scalar(
        select(User.role)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id, Membership.agency_id == agency_id)
    )
    return row is not None and row in (Role.OFFICER, Role.SUPERVISOR)


def _comment(req: ActionRequest, required: bool) -> str | None:
    text = nfc(req.comment) if req.comment else None
    if required and not text:
        raise Invalid(f"A comment is required to {req.action.value} a case", code="comment_required")
    if text and len(text) > 4000:
        raise Invalid("comment must be at most 4000 characters")
    return text


def notify_followers(session: Session, settings: Settings, case: Case, what: str) -> None:
    """Tell the case's subscribers about a public status change."""
    ctx = {"ref": case.ref, "state": case.state, "what": what, "note": case.public_note}
    followers = select(CaseSubscription).where(
        CaseSubscription.case_id == case.id, CaseSubscription.verified_at.is_not(None)
    )  # a typed address that never confirmed gets nothing
    for sub in session.scalars(followers):
        recipient: dict[str, Any] = (
            {"user_id": sub.user_id}
            if sub.user_id is not None
            else {"channel": sub.channel, "address": sub.address}
        )
        integrations.notify(session, settings, recipient, "case_status", ctx)


def perform(
    session: Session,
    settings: Settings,
    actor: Actor,
    case: Case,
    req: ActionRequest,
    *,
    now: datetime | None = None,
) -> Case:
    """Apply ``req`` to ``case`` (flushes; the caller commits). 409 for an illegal transition, 403 for
    someone not allowed, 422 for missing or bad parameters — with nothing changed."""
    now = now or utcnow()
    action = req.action
    old_state = State(case.state)
    new_state = target_state(old_state, action)  # 409 with the allowed actions
    if not case_permission(session, actor, action.value, case):
        raise Forbidden(f"You may not {action.value} this case")
    comment = _comment(req, TRANSITIONS[action].needs_comment)
    before = timeline.snapshot(case)
    data: dict[str, Any] = {}

    if action is CaseAction.ACKNOWLEDGE:
        case.acknowledged_at = case.acknowledged_at or now
    elif action is CaseAction.ASSIGN:
        if case.agency_id is None:
            raise Conflict("Route the case to an agency (transfer) before assigning it", code="not_routed")
        if req.assignee_id is None:
            raise Invalid("assignee_id is required to assign")
        if not _is_member(session, req.assignee_id, case.agency_id):
            raise Invalid("The assignee must be an officer or supervisor of the lead agency")
        case.acknowledged_at = case.acknowledged_at or now
        case.assignee_id = req.assignee_id
        data["assignee_id"] = req.assignee_id
    elif action is CaseAction.START:
        # who starts an unassigned case takes it, when they may be assigned it (staff of the lead agency)
        uid, lead = actor.user_id, case.agency_id
        if (
            case.assignee_id is None
            and uid is not None
            and lead is not None
            and _is_member(session, uid, lead)
        ):
            case.assignee_id = uid
            data["assignee_id"] = uid
    elif action is CaseAction.RESOLVE:
        if not req.after_media and not comment:
            raise Invalid("Resolving needs an after-photo or a written reason", code="proof_required")
        # only photos the resolver uploaded: never another case's (unreviewed) picture
        for item, _ in usable_media(session, req.after_media, (actor.label, *req.uploaders)):
            session.add(CaseMedia(case_id=case.id, media_id=item.id, role="after", created_at=now))
        case.resolved_at = now
        case.resolution_note = comment
        data["after_photos"] = len(req.after_media)
    elif action is CaseAction.CLOSE:
        case.closed_at = now
    elif action is CaseAction.REJECT:
        try:
            reason = RejectReason(req.reason or "")
        except ValueError:
            raise Invalid(
                f"reason must be one of {[r.value for r in RejectReason]}", code="reject_reason_required"
            ) from None
        case.reject_reason = reason.value
        case.closed_at = now
        data["reason"] = reason.value
    elif action is CaseAction.REOPEN:
        if not is_handler(session, actor, case):
            since = case.resolved_at or case.closed_at or case.updated_at
            if now > since + timedelta(days=settings.reports_reopen_days):
                raise Conflict(
                    f"A case can be reopened within {settings.reports_reopen_days} days of its resolution",
                    code="reopen_window_passed",
                )
        case.resolved_at = None
        case.closed_at = None
        sla.set_deadlines(case, settings, now)
    elif action in (CaseAction.TRANSFER, CaseAction.RETURN):
        if action is CaseAction.TRANSFER:
            if req.agency_id is None or not _agency_exists(session, req.agency_id):
                raise Invalid("agency_id must name an existing agency to transfer to")
            if req.agency_id == case.agency_id:
                raise Invalid("The case is already with this agency")
            session.execute(
                delete(CaseAgency).where(CaseAgency.case_id == case.id, CaseAgency.agency_id == req.agency_id)
            )
        data["from_agency_id"] = case.agency_id
        case.agency_id = req.agency_id if action is CaseAction.TRANSFER else None
        data["to_agency_id"] = case.agency_id
        case.assignee_id = None
        sla.restart_ack_clock(case, settings, now)
        case.overdue = False
        case.escalated_at = None
    elif action is CaseAction.ADD_SUPPORT:
        if req.agency_id is None or not _agency_exists(session, req.agency_id):
            raise Invalid("agency_id must name an existing agency")
        if req.agency_id == case.agency_id:
            raise Invalid("The lead agency cannot also support")
        exists = session.get(CaseAgency, (case.id, req.agency_id))
        if exists is not None:
            raise Conflict("This agency already supports the case")
        session.add(CaseAgency(case_id=case.id, agency_id=req.agency_id, role="support", added_at=now))
        data["agency_id"] = req.agency_id
    elif action is CaseAction.REQUEST_EXTENSION:
        if req.hours is None or not (0 < req.hours <= MAX_EXTENSION_HOURS):
            raise Invalid(f"hours must be more than 0 and at most {MAX_EXTENSION_HOURS:g}")
        pending = session.scalar(
            select(CaseExtension.id).where(
                CaseExtension.case_id == case.id, CaseExtension.status == "pending"
            )
        )
        if pending is not None:
            raise Conflict("An extension request is already pending for this case", code="extension_pending")
        ext = CaseExtension(
            case_id=case.id,
            hours=req.hours,
            reason=comment or "",
            requested_by=actor.user_id,
            requested_at=now,
        )
        session.add(ext)
        session.flush()
        data.update({"extension_id": ext.id, "hours": req.hours})
    elif action is CaseAction.DECIDE_EXTENSION:
        found = session.get(CaseExtension, req.extension_id) if req.extension_id is not None else None
        if found is None or found.case_id != case.id:
            raise NotFound("No such extension request for this case")
        ext = found
        if ext.status != "pending":
            raise Conflict(f"This extension request was already {ext.status}")
        if req.approve is None:
            raise Invalid("approve (true or false) is required")
        ext.status = "approved" if req.approve else "denied"
        ext.decided_by = actor.user_id
        ext.decided_at = now
        ext.decision_comment = comment
        if req.approve:
            sla.extend(case, settings, ext.hours)
        data.update({"extension_id": ext.id, "approved": req.approve, "hours": ext.hours})
    elif action is CaseAction.MERGE:
        master = session.get(Case, req.master_id) if req.master_id is not None else None
        if master is None:
            raise NotFound("The master case does not exist")
        # the master gains a public timeline entry and the duplicate's reporters: both sides are checked
        require_on_both(session, actor, Action.CASE_MODERATE, case, master, "merge")
        merge_into(session, actor, case, master, now)
        data["master_id"] = master.id
        data["master_ref"] = master.ref

    case.state = new_state.value
    case.updated_at = now
    public = action not in INTERNAL_ACTIONS
    if public and comment and action is not CaseAction.REOPEN:
        case.public_note = comment
    timeline.record(
        session,
        case,
        actor,
        now,
        "transition",
        action=action.value,
        from_state=old_state.value,
        to_state=new_state.value,
        public=public,
        comment=comment,
        data=data,
        before=before,
    )
    session.flush()
    integrations.emit(
        session,
        "cases.transitioned",
        {
            "id": case.id,
            "ref": case.ref,
            "action": action.value,
            "from": old_state.value,
            "to": new_state.value,
            "agency_id": case.agency_id,
        },
    )
    if public and new_state is not old_state:
        notify_followers(session, settings, case, action.value)
    return case


def merge_into(session: Session, actor: Actor, dup: Case, master: Case, now: datetime) -> None:
    """Make ``dup`` a duplicate of ``master``: its reporters and subscribers follow the master."""
    if master.id == dup.id:
        raise Invalid("A case cannot be merged into itself")
    if master.master_id is not None:
        raise Conflict("The master case is itself merged; merge into its master instead")
    if master.state not in {s.value for s in State} or State(master.state) in (State.CLOSED, State.REJECTED):
        raise Conflict("The master case must not be closed or rejected")
    dup.master_id = master.id
    dup.reject_reason = RejectReason.DUPLICATE.value
    dup.closed_at = now
    for rep in session.scalars(select(CaseReporter).where(CaseReporter.case_id == dup.id)).all():
        session.add(
            CaseReporter(
                case_id=master.id,
                user_id=rep.user_id,
                name=rep.name,
                phone=rep.phone,
                email=rep.email,
                device_id=rep.device_id,
                account_id=rep.account_id,
                merged_from_id=dup.id,
                created_at=now,
            )
        )
    for sub in session.scalars(select(CaseSubscription).where(CaseSubscription.case_id == dup.id)).all():
        session.add(
            CaseSubscription(
                case_id=master.id,
                user_id=sub.user_id,
                channel=sub.channel,
                address=sub.address,
                created_at=now,
                verified_at=sub.verified_at,
                code_hash=sub.code_hash,
                code_expires_at=sub.code_expires_at,
                code_attempts=sub.code_attempts,
            )
        )
    # the duplicates' followers are moved: the master's notifications reach them
    session.execute(delete(CaseSubscription).where(CaseSubscription.case_id == dup.id))
    timeline.record(
        session,
        master,
        actor,
        now,
        "merged_in",
        action="merge",
        public=True,
        data={"duplicate_id": dup.id, "duplicate_ref": dup.ref},
    )


def add_note(session: Session, actor: Actor, case: Case, text: str, *, now: datetime | None = None) -> None:
    """An internal note (never public); staff handling the case only (checked by the caller)."""
    body = nfc(text)
    if not body:
        raise Invalid("A note needs text")
    if len(body) > 4000:
        raise Invalid("A note must be at most 4000 characters")
    timeline.record(session, case, actor, now or utcnow(), "note", action="note", public=False, comment=body)

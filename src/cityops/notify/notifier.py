"""Sending notifications: recipient expansion, channel choice, recorded deliveries, retries, templates.

:meth:`Notifier.send` records one :class:`Delivery` per (channel, address) in the caller's transaction and
sends them **after that transaction commits** (a rolled-back change notifies nobody). A failed attempt is
retried with exponential back-off by :func:`deliver_due` (``cityops notify retry``, or the background
loop the plugin starts outside tests), up to ``notify_max_attempts``. In dev and test every message also
goes to the log channel. In production, a message no enabled channel can carry is still recorded, as a
``failed`` delivery on channel ``none`` with the reason, so nothing is dropped silently.
"""

from __future__ import annotations

import importlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session, object_session

from cityops.clock import utcnow
from cityops.errors import Invalid
from cityops.notify.channels import Channel, DeliveryResult, Message, Recipient
from cityops.notify.models import Delivery, PushSubscription
from cityops.plugins import plugin_manager
from cityops.settings import Environment, Settings

log = logging.getLogger("cityops.notify")
_PENDING_KEY = "cityops.notify.pending"
_LISTENING_KEY = "cityops.notify.listening"

# -- templates -----------------------------------------------------------------------------------------

# name -> (subject_vi, body_vi, subject_en, body_en); fields are ``str.format`` names from the context.
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "case_status": (
        "Phản ánh {ref}: cập nhật",
        "Phản ánh {ref} của bạn đã chuyển sang trạng thái: {state}. {note}",
        "Report {ref}: update",
        "Your report {ref} is now: {state}. {note}",
    ),
    "case_escalated": (
        "Phản ánh {ref} quá hạn xử lý",
        "Phản ánh {ref} đã quá hạn xử lý (hạn {due}) và được chuyển lên cấp trên.",
        "Report {ref} is overdue",
        "Report {ref} passed its deadline ({due}) and has been escalated.",
    ),
    "case_warning": (
        "Phản ánh {ref} sắp đến hạn",
        "Phản ánh {ref} sắp đến hạn xử lý ({due}).",
        "Report {ref} is due soon",
        "Report {ref} is due soon ({due}).",
    ),
    "address_code": (
        "Mã xác nhận",
        "Mã xác nhận nhận tin về phản ánh {ref}: {code} (hiệu lực {minutes} phút). Bỏ qua nếu bạn không yêu cầu.",
        "Confirmation code",
        "Your code to follow report {ref}: {code} (valid {minutes} minutes). Ignore this if you did not ask.",
    ),
    "otp": (
        "Mã xác thực",
        "Mã xác thực cityops của bạn là {code}, có hiệu lực {minutes} phút. Không chia sẻ mã này cho ai.",
        "Sign-in code",
        "Your cityops sign-in code is {code}, valid for {minutes} minutes. Do not share it.",
    ),
}


# Case states (cityops.reports.workflow.State) as citizens read them, (vi, en).
STATE_LABELS: dict[str, tuple[str, str]] = {
    "submitted": ("đã gửi", "submitted"),
    "acknowledged": ("đã tiếp nhận", "acknowledged"),
    "assigned": ("đã giao xử lý", "assigned"),
    "in_progress": ("đang xử lý", "in progress"),
    "resolved": ("đã xử lý xong", "resolved"),
    "closed": ("đã đóng", "closed"),
    "rejected": ("không được tiếp nhận", "rejected"),
    "reopened": ("được mở lại", "reopened"),
}


def register_template(name: str, subject_vi: str, body_vi: str, subject_en: str, body_en: str) -> None:
    """Add or replace a message template (capabilities and sectors add their own)."""
    TEMPLATES[name] = (subject_vi, body_vi, subject_en, body_en)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def render(
    template: str,
    context: Mapping[str, Any],
    recipient: Recipient,
    *,
    locale: str = "vi",
    sensitive: bool = False,
) -> Message:
    """Build a :class:`Message` from a template; an unknown template still yields a readable message."""
    values = _Blank({k: "" if v is None else v for k, v in context.items()})
    if template in TEMPLATES:
        vi, en = _Blank(values), _Blank(values)
        state = str(context.get("state") or "")
        if state in STATE_LABELS:  # case states read as words, not codes
            vi["state"], en["state"] = STATE_LABELS[state]
        langs = (vi, vi, en, en)
        parts = [text.format_map(lang).strip() for text, lang in zip(TEMPLATES[template], langs, strict=True)]
    else:
        log.warning("notification template %r is not registered; sending the raw context", template)
        raw = ", ".join(f"{k}: {v}" for k, v in context.items())
        parts = [template, raw, template, raw]
    data = (
        {k: v for k, v in context.items() if isinstance(v, str | int | float | bool)} if not sensitive else {}
    )
    subject_vi, body_vi, subject_en, body_en = parts
    return Message(
        recipient,
        subject_vi,
        body_vi,
        subject_en,
        body_en,
        locale=locale,
        category=template,
        sensitive=sensitive,
        data=data,
    )


def recipient_from(value: Recipient | Mapping[str, Any] | str | int) -> Recipient:
    """Accept the forms callers have: a :class:`Recipient`, ``{"user_id": 7}``, ``{"channel": "sms",
    "address": "+84…"}`` (channels ``sms``/``phone``, ``email``, ``webpush``/``push`` with a subscription id or
    endpoint), ``{"phone"|"email": …}``, a phone or e-mail string, or a user id."""
    if isinstance(value, Recipient):
        return value
    if isinstance(value, int):
        return Recipient(user_id=value)
    if isinstance(value, str):
        return Recipient(email=value) if "@" in value else Recipient(phone=value)
    if "channel" in value:
        channel, address = str(value["channel"]), value.get("address")
        user_id = value.get("user_id")
        if channel in ("sms", "phone"):
            return Recipient(user_id=user_id, phone=str(address))
        if channel == "email":
            return Recipient(user_id=user_id, email=str(address))
        if channel in ("webpush", "push"):
            return Recipient(user_id=user_id, push={"ref": str(address)})
        raise Invalid(f"Unknown notification channel {channel!r}.")
    known = {"user_id", "phone", "email", "push"}
    if not known & set(value):
        raise Invalid("A recipient needs a user_id, phone, email or push subscription.")
    return Recipient(**{k: value[k] for k in known if k in value})


# -- expansion -----------------------------------------------------------------------------------------


def _push_info(sub: PushSubscription) -> dict[str, Any]:
    return {"id": sub.id, "endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}


def _user_contacts(session: Session, user_id: int) -> tuple[str | None, str | None]:
    """The phone and e-mail of a user of ``cityops.identity`` (looked up dynamically: no import cycle)."""
    user_cls = getattr(importlib.import_module("cityops.identity.models"), "User", None)
    user = session.get(user_cls, user_id) if user_cls is not None else None
    if user is None:
        return None, None
    return getattr(user, "phone", None), getattr(user, "email", None)


def expand(session: Session, recipient: Recipient) -> list[Recipient]:
    """One recipient per concrete address: a user becomes their phone, e-mail and live push subscriptions."""
    out: list[Recipient] = []
    if recipient.push is not None:
        ref = str(recipient.push.get("ref") or recipient.push.get("id") or recipient.push.get("endpoint", ""))
        query = select(PushSubscription).where(PushSubscription.disabled_at.is_(None))
        sub = session.scalar(
            query.where(PushSubscription.id == int(ref))
            if ref.isdigit()
            else query.where(PushSubscription.endpoint == ref)
        )
        if sub is not None:
            out.append(Recipient(user_id=recipient.user_id or sub.user_id, push=_push_info(sub)))
    if recipient.phone:
        out.append(Recipient(user_id=recipient.user_id, phone=recipient.phone))
    if recipient.email:
        out.append(Recipient(user_id=recipient.user_id, email=recipient.email))
    if recipient.user_id is not None and not (recipient.phone or recipient.email or recipient.push):
        phone, email = _user_contacts(session, recipient.user_id)
        if phone:
            out.append(Recipient(user_id=recipient.user_id, phone=phone))
        if email:
            out.append(Recipient(user_id=recipient.user_id, email=email))
        subs = session.scalars(
            select(PushSubscription).where(
                PushSubscription.user_id == recipient.user_id, PushSubscription.disabled_at.is_(None)
            )
        )
        out.extend(Recipient(user_id=recipient.user_id, push=_push_info(s)) for s in subs)
    return out


# -- the notifier --------------------------------------------------------------------------------------


def channels_from_plugins(settings: Settings) -> list[Channel]:
    found: list[Channel] = []
    for batch in plugin_manager().hook.alert_channels(settings=settings):
        for channel in batch or []:
            if isinstance(channel, Channel):
                found.append(channel)
            else:
                log.warning("alert_channels returned %r, which is not a notification channel", channel)
    return found


class Notifier:
    def __init__(self, settings: Settings, channels: Sequence[Channel]) -> None:
        self.settings = settings
        self.channels: dict[str, Channel] = {}
        for channel in channels:
            if channel.enabled and channel.name not in self.channels:
                self.channels[channel.name] = channel

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        """The enabled channels of every plugin (``alert_channels`` hook); the log channel outside production."""
        return cls(settings, channels_from_plugins(settings))

    def send(self, session: Session, message: Message) -> list[Delivery]:
        """Record the deliveries of ``message`` (flush) and send them once the session commits."""
        now = utcnow()
        planned: list[tuple[Delivery, Message]] = []
        targets = expand(session, message.recipient)
        for target in targets:
            concrete = replace(message, recipient=target)
            for name, channel in self.channels.items():
                if name != "log" and channel.accepts(concrete):
                    planned.append((self._record(name, concrete, now), concrete))
        if not planned and "log" not in self.channels:
            reason = (
                "no address for this recipient" if not targets else "no enabled channel for its addresses"
            )
            row = self._record("none", message, now)
            row.status, row.last_error, row.next_attempt_at = "failed", reason, None
            planned.append((row, message))
            if self.settings.env is Environment.PRODUCTION:
                log.warning(
                    "notification %s to %s not deliverable: %s", message.category, message.recipient, reason
                )
        if "log" in self.channels:
            planned.append((self._record("log", message, now), message))
        session.add_all(row for row, _ in planned)
        session.flush()
        pending: dict[int, tuple[Notifier, Message]] = session.info.setdefault(_PENDING_KEY, {})
        for row, msg in planned:
            if row.status == "pending":
                pending[row.id] = (self, msg)  # the live message: sensitive text is not in the row
        if not session.info.get(_LISTENING_KEY):
            event.listen(session, "after_commit", _deliver_after_commit)
            event.listen(session, "after_rollback", _forget_after_rollback)
            session.info[_LISTENING_KEY] = True
        return [row for row, _ in planned]

    @staticmethod
    def _record(channel: str, message: Message, now: datetime) -> Delivery:
        return Delivery(
            channel=channel,
            category=message.category,
            address=message.recipient.address()[:1024],
            user_id=message.recipient.user_id,
            message=message.to_record(),
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )

    def attempt(self, row: Delivery, message: Message | None = None) -> DeliveryResult:
        """One attempt of one delivery; updates the row (the caller commits)."""
        now = utcnow()
        message = message or Message.from_record(row.message)
        session = object_session(row)
        push = message.recipient.push
        if push and push.get("id") and not push.get("endpoint") and session is not None:
            sub = session.get(PushSubscription, int(push["id"]))  # a retry: the row keeps only the id
            live = _push_info(sub) if sub is not None and sub.disabled_at is None else {"id": push["id"]}
            message = replace(message, recipient=replace(message.recipient, push=live))
        channel = self.channels.get(row.channel)
        if channel is None:
            result = DeliveryResult(False, f"channel {row.channel!r} is not enabled", permanent=True)
        elif message.sensitive and row.attempts > 0:
            result = DeliveryResult(False, "one-time codes are never re-sent", permanent=True)
        else:
            try:
                result = channel.send(message)
            except Exception as exc:  # a buggy plugin channel must not lose the record
                log.exception("channel %s failed", row.channel)
                result = DeliveryResult(False, f"{exc.__class__.__name__}: {exc}")
        row.attempts += 1
        if result.gone and push and push.get("id") and session is not None:
            session.execute(delete(PushSubscription).where(PushSubscription.id == int(push["id"])))
        if result.ok:
            row.status, row.sent_at, row.last_error, row.next_attempt_at = "sent", now, None, None
        elif result.permanent or message.sensitive or row.attempts >= self.settings.notify_max_attempts:
            row.status, row.last_error, row.next_attempt_at = "failed", result.error, None
        else:
            delay = self.settings.notify_retry_seconds * 2 ** (row.attempts - 1)
            row.status, row.last_error = "retrying", result.error
            row.next_attempt_at = now + timedelta(seconds=delay)
        return result


def _deliver_after_commit(session: Session) -> None:
    pending: dict[int, tuple[Notifier, Message]] = session.info.pop(_PENDING_KEY, {})
    if not pending:
        return
    try:
        with Session(bind=session.get_bind()) as fresh:
            for delivery_id, (notifier, message) in pending.items():
                row = fresh.get(Delivery, delivery_id)
                if row is not None and row.status == "pending":
                    notifier.attempt(row, message)
            fresh.commit()
    except Exception:  # the rows stay pending; deliver_due picks them up
        log.exception("sending notifications after commit failed")


def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def deliver_due(
    session: Session, settings: Settings, *, now: datetime | None = None, limit: int = 500
) -> int:
    """Send pending deliveries and retry failed ones whose time has come; commits. Returns the attempts made."""
    now = now or utcnow()
    notifier = Notifier.from_settings(settings)
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.status.in_(("pending", "retrying")), Delivery.next_attempt_at <= now)
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
    ).all()
    for row in rows:
        notifier.attempt(row)
    session.commit()
    return len(rows)


def notify(
    session: Session,
    settings: Settings,
    recipient: Recipient | Mapping[str, Any] | str | int,
    template: str,
    context: Mapping[str, Any],
    *,
    locale: str | None = None,
) -> list[Delivery]:
    """Render ``template`` with ``context`` and send it to ``recipient`` after the session commits."""
    message = render(template, context, recipient_from(recipient), locale=locale or settings.default_locale)
    return Notifier.from_settings(settings).send(session, message)


_LOOPBACK = ("http://127.0.0.1:", "http://localhost:", "http://[::1]:")


def _push_endpoint_ok(endpoint: str, settings: Settings | None) -> bool:
    """https always; http only to a loopback push service outside production (local emulators, tests)."""
    if endpoint.startswith("https://"):
        return True
    return (
        settings is not None and settings.env is not Environment.PRODUCTION and endpoint.startswith(_LOOPBACK)
    )


def save_push_subscription(
    session: Session,
    subscription: Mapping[str, Any],
    user_id: int | None = None,
    *,
    settings: Settings | None = None,
) -> PushSubscription:
    """Record a browser's ``PushSubscription.toJSON()`` (``endpoint`` + ``keys``); same endpoint → updated."""
    endpoint = subscription.get("endpoint")
    keys = subscription.get("keys")
    if not isinstance(endpoint, str) or not _push_endpoint_ok(endpoint, settings) or len(endpoint) > 1024:
        raise Invalid("A push subscription needs an https endpoint.", code="push_endpoint_invalid")
    if not isinstance(keys, Mapping) or not all(isinstance(keys.get(k), str) for k in ("p256dh", "auth")):
        raise Invalid("A push subscription needs keys.p256dh and keys.auth.", code="push_keys_missing")
    sub = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if sub is None:
        sub = PushSubscription(endpoint=endpoint, created_at=utcnow())
        session.add(sub)
    sub.p256dh, sub.auth, sub.user_id, sub.disabled_at = keys["p256dh"], keys["auth"], user_id, None
    session.flush()
    return sub


def delivery_counts(session: Session) -> dict[str, int]:
    """Deliveries per status (for metrics and health pages)."""
    counts: dict[str, int] = defaultdict(int)
    for status in session.scalars(select(Delivery.status)):
        counts[status] += 1
    return dict(counts)

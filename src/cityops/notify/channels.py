"""Messages and the channels that carry them: log (dev), SMS gateway, e-mail (SMTP), Web Push.

A channel is anything with a ``name``, an ``enabled`` flag, ``accepts(message)`` and
``send(message) -> DeliveryResult``; plugins add channels through the ``alert_channels`` hook. A channel
sends one message to one concrete address (the :class:`cityops.notify.notifier.Notifier` expands a user
into their phone, e-mail and push subscriptions first) and never raises for a delivery problem: it
returns a failed :class:`DeliveryResult` (``permanent`` when retrying cannot help).
"""

from __future__ import annotations

import importlib
import json
import logging
import smtplib
import ssl
from collections import deque
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Any, ClassVar, Protocol, runtime_checkable

import httpx

from cityops.privacy.masking import mask_contacts
from cityops.settings import Environment, Settings

log = logging.getLogger("cityops.notify")
PUSH_TTL_SECONDS = 12 * 3600  # a push service keeps an undelivered alert this long (phone off, no network)


@dataclass(frozen=True, repr=False)
class Recipient:
    """Who a message is for: a user (expanded to their addresses) or one concrete address."""

    user_id: int | None = None
    phone: str | None = None
    email: str | None = None
    push: dict[str, Any] | None = None  # {"id", "endpoint", "keys": {"p256dh", "auth"}}

    def address(self) -> str:
        if self.phone:
            return self.phone
        if self.email:
            return self.email
        if self.push:  # a subscription by its id: the endpoint is personal data and stays in its table
            return f"push:{self.push['id']}" if self.push.get("id") else "push:?"
        return f"user:{self.user_id}"

    def __repr__(self) -> str:
        # Recipients end up in log lines and error texts: never with a full phone number or e-mail.
        return f"Recipient(user_id={self.user_id}, address={mask_address(self.address())!r})"


@dataclass(frozen=True)
class Message:
    """A notification in Vietnamese and English; ``locale`` picks the language sent first."""

    recipient: Recipient
    subject_vi: str
    body_vi: str
    subject_en: str
    body_en: str
    locale: str = "vi"
    category: str = "general"
    sensitive: bool = False  # a one-time code: its text is not stored and it is never re-sent
    data: dict[str, Any] = field(default_factory=dict)  # machine-readable extras (e.g. a case ref, URL)

    @property
    def subject(self) -> str:
        return self.subject_en if self.locale == "en" else self.subject_vi

    @property
    def body(self) -> str:
        return self.body_en if self.locale == "en" else self.body_vi

    def to_record(self) -> dict[str, Any]:
        """What a delivery row keeps (the text of a sensitive message is left out)."""
        record = asdict(self)
        push = record["recipient"].get("push")
        if push:  # kept by id only; the notifier reads the endpoint and keys again before a retry
            record["recipient"]["push"] = {"id": push.get("id"), "ref": push.get("ref")}
        if self.sensitive:
            for key in ("subject_vi", "body_vi", "subject_en", "body_en"):
                record[key] = "[redacted]"
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Message:
        values = dict(record)
        values["recipient"] = Recipient(**values["recipient"])
        return cls(**values)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    error: str | None = None
    permanent: bool = False  # retrying cannot help (bad address, subscription gone)
    provider_id: str | None = None
    gone: bool = False  # the address no longer exists (push service 404/410): the subscription is removed


@runtime_checkable
class Channel(Protocol):
    name: str
    enabled: bool

    def accepts(self, message: Message) -> bool: ...

    def send(self, message: Message) -> DeliveryResult: ...


def mask_address(address: str) -> str:
    """A phone number or e-mail address shortened for logs and errors: ``+8491***678``, ``ng***@example.vn``."""
    if "@" in address:
        user, _, domain = address.partition("@")
        return f"{user[:2]}***@{domain}"
    if sum(c.isdigit() for c in address) >= 7:  # a phone number, however it was typed
        return address[: 5 if address.startswith("+") else 4] + "***" + address[-3:]
    if address.startswith(("https://", "http://")):  # a web-push endpoint: the host says enough
        return address.split("/", 3)[2] + "/***"
    return address[:40]


class LogChannel:
    """Dev and test: writes every message to the log and keeps the last ones in memory.

    ``LogChannel.outbox`` is shared by all instances (the notifier is built per call), newest last.
    """

    name = "log"
    outbox: ClassVar[deque[Message]] = deque(maxlen=200)

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.env is not Environment.PRODUCTION

    def accepts(self, message: Message) -> bool:
        return True

    def send(self, message: Message) -> DeliveryResult:
        type(self).outbox.append(message)
        log.info(
            "notification [%s] to %s: %s — %s",
            message.category,
            mask_address(message.recipient.address()),
            message.subject,
            mask_contacts(message.body),  # a public note may quote a phone number
        )
        return DeliveryResult(True)

    @classmethod
    def recent(cls, category: str | None = None) -> list[Message]:
        return [m for m in cls.outbox if category is None or m.category == category]

    @classmethod
    def clear(cls) -> None:
        cls.outbox.clear()


class SmsChannel:
    """POSTs ``{"to", "text", "category"}`` as JSON to ``sms_gateway_url`` (Bearer ``sms_gateway_token``).

    Most Vietnamese SMS brandname providers sit behind such a small adapter. 2xx is success; other 4xx
    (except 408 and 429) are permanent failures; 5xx, 408, 429 and network errors are retried.
    """

    name = "sms"

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self.url = settings.sms_gateway_url
        self.token = settings.sms_gateway_token
        self.enabled = bool(self.url)
        self._transport = transport

    def accepts(self, message: Message) -> bool:
        return bool(message.recipient.phone)

    def send(self, message: Message) -> DeliveryResult:
        if not self.url:
            return DeliveryResult(False, "SMS gateway not configured", permanent=True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = {"to": message.recipient.phone, "text": message.body, "category": message.category}
        try:
            with httpx.Client(timeout=10, transport=self._transport) as client:
                response = client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            return DeliveryResult(False, f"SMS gateway unreachable: {exc.__class__.__name__}: {exc}")
        if response.is_success:
            provider_id = None
            try:
                body = response.json()
                provider_id = str(body.get("id")) if isinstance(body, dict) and body.get("id") else None
            except ValueError:
                pass
            return DeliveryResult(True, provider_id=provider_id)
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        return DeliveryResult(
            False, f"SMS gateway answered {response.status_code}: {response.text[:200]}", permanent=permanent
        )


class EmailChannel:
    """Plain-text e-mail through SMTP (stdlib ``smtplib``), the recipient's language first."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = bool(settings.smtp_host)

    def accepts(self, message: Message) -> bool:
        return bool(message.recipient.email)

    def build(self, message: Message) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.smtp_from
        email["To"] = message.recipient.email or ""
        email["Subject"] = message.subject
        other = message.body_vi if message.locale == "en" else message.body_en
        email.set_content(f"{message.body}\n\n---\n\n{other}\n")
        return email

    def send(self, message: Message) -> DeliveryResult:
        s = self.settings
        if not s.smtp_host:
            return DeliveryResult(False, "SMTP not configured", permanent=True)
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=15) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password or "")
                smtp.send_message(self.build(message))
        except smtplib.SMTPRecipientsRefused as exc:
            return DeliveryResult(False, f"recipient refused: {exc}", permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult(False, f"SMTP error: {exc.__class__.__name__}: {exc}")
        return DeliveryResult(True)


class WebPushChannel:
    """Web Push to recorded browser subscriptions, with ``pywebpush`` (VAPID + aes128gcm encryption).

    The VAPID key is ``webpush_vapid_private_key`` or the one generated into the data directory
    (:mod:`cityops.notify.vapid`). The payload is JSON ``{"title", "body", "category", "url", ...data}``
    that the service worker shows. A 404 or 410 from the push service means the browser dropped the
    subscription: the result is ``gone`` and the notifier deletes it. Error texts never carry the endpoint.
    """

    name = "webpush"

    def __init__(self, settings: Settings) -> None:
        from cityops.notify.vapid import private_key

        self.settings = settings
        try:
            self._webpush: Any = importlib.import_module("pywebpush")
        except ImportError:
            self._webpush = None
        self._key = private_key(settings) if self._webpush is not None else None
        self.enabled = self._webpush is not None and bool(self._key)

    def accepts(self, message: Message) -> bool:
        return bool(message.recipient.push)

    def send(self, message: Message) -> DeliveryResult:
        push = message.recipient.push
        if not self.enabled or not push:
            return DeliveryResult(False, "Web Push not configured", permanent=True)
        payload = json.dumps(
            {"title": message.subject, "body": message.body, "category": message.category, **message.data},
            ensure_ascii=False,
        )
        if not push.get("endpoint") or not push.get("keys"):
            return DeliveryResult(False, "push subscription no longer exists", permanent=True, gone=True)
        info = {"endpoint": push["endpoint"], "keys": push["keys"]}
        host = mask_address(str(push["endpoint"]))
        try:
            self._webpush.webpush(
                subscription_info=info,
                data=payload,
                vapid_private_key=self._key,
                vapid_claims={"sub": self.settings.webpush_vapid_subject},
                timeout=10,
                ttl=PUSH_TTL_SECONDS,
            )
        except self._webpush.WebPushException as exc:
            status = getattr(getattr(exc, "response", None), "status_code", None)
            gone = status in (404, 410)
            permanent = gone or (status is not None and 400 <= status < 500 and status not in (408, 429))
            return DeliveryResult(
                False, f"push service {host} answered {status}", permanent=permanent, gone=gone
            )
        except Exception as exc:  # network errors from requests: their text names the endpoint's path
            return DeliveryResult(False, f"push service {host} unreachable: {exc.__class__.__name__}")
        return DeliveryResult(True)


def builtin_channels(settings: Settings) -> list[Channel]:
    return [LogChannel(settings), SmsChannel(settings), EmailChannel(settings), WebPushChannel(settings)]

"""Confirming a phone number or e-mail address someone typed, before anything is sent to it regularly.

Whoever may send to a typed address may spam it at the deployment's cost (#21 finding 6: one IP subscribed
40 numbers to a case, one status change sent 40 SMS). A typed address therefore gets one short
confirmation code first (sensitive: never stored in clear, never re-sent); only the address's owner can
enter it. Codes are kept as a keyed hash of (scope, address, code). The limits per address, per client
and per scope are the caller's, in its own table (``cityops.reports.followup`` for case subscriptions).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import Any

from sqlalchemy.orm import Session

from cityops.errors import Invalid
from cityops.notify.channels import Recipient
from cityops.notify.notifier import Notifier, render
from cityops.notify.otp import canonical_phone
from cityops.settings import Settings

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(?:\.[^@\s.]+)+")


def normalize_address(channel: str, address: str) -> str:
    """The one spelling of a typed address: ``+84…`` for SMS, lower-case e-mail; 422 when implausible."""
    text = address.strip()
    if channel == "sms":
        return canonical_phone(text)
    if channel == "email" and len(text) <= 254 and _EMAIL.fullmatch(text):
        return text.lower()
    raise Invalid(f"The {channel} address is not valid.", code="invalid_address")


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_digest(settings: Settings, scope: str, address: str, code: str) -> str:
    message = f"{scope}:{address}:{code.strip()}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def client_key(settings: Settings, ip: str) -> str:
    """A keyed hash of a client IP, enough to count its requests without storing the address."""
    return hmac.new(settings.secret_key.encode(), f"client:{ip}".encode(), hashlib.sha256).hexdigest()


def send_code(
    session: Session, settings: Settings, channel: str, address: str, code: str, context: dict[str, Any]
) -> None:
    """Send ``code`` to ``address`` (after the session commits), as a sensitive one-off message."""
    recipient = Recipient(phone=address) if channel == "sms" else Recipient(email=address)
    minutes = max(1, settings.otp_ttl_seconds // 60)
    message = render(
        "address_code",
        {**context, "code": code, "minutes": minutes},
        recipient,
        locale=settings.default_locale,
        sensitive=True,
    )
    Notifier.from_settings(settings).send(session, message)

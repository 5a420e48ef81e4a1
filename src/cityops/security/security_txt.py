"""``/.well-known/security.txt`` (RFC 9116): where a finder reports a vulnerability in this deployment.

Served only when the operator set ``security_contact``; a deployment without a contact answers 404 rather
than pointing researchers at nobody. ``Expires`` is kept 180 days ahead so the file never goes stale.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from cityops.clock import utcnow
from cityops.deps import SettingsDep
from cityops.errors import NotFound

router = APIRouter(tags=["ops"])
EXPIRES_AFTER = timedelta(days=180)


@router.get("/.well-known/security.txt", response_class=PlainTextResponse)
def security_txt(settings: SettingsDep) -> PlainTextResponse:
    """The deployment's security contact, in the format of RFC 9116."""
    if not settings.security_contact:
        raise NotFound("This deployment publishes no security contact (setting security_contact)")
    expires = (utcnow() + EXPIRES_AFTER).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"Contact: {c.strip()}" for c in settings.security_contact.split(",") if c.strip()]
    lines.append(f"Expires: {expires}")
    lines.append("Preferred-Languages: vi, en")
    if settings.security_policy_url:
        lines.append(f"Policy: {settings.security_policy_url}")
    return PlainTextResponse("\n".join(lines) + "\n", headers={"Cache-Control": "public, max-age=86400"})

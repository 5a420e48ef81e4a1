"""Security headers on every response, in one place.

* ``Content-Security-Policy``: HTML pages and scripts (the service worker) get :data:`PAGE_CSP` (scripts and styles only from this origin, no
  inline script); the API docs pages get :data:`DOCS_CSP` plus the hashes of their own inline scripts; every
  other response gets :data:`API_CSP` (nothing may load, nothing may frame it). A response that already
  carries a policy (a media file's sandbox) keeps it.
* ``X-Frame-Options: DENY`` (older browsers; ``frame-ancestors 'none'`` for the others),
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``, ``Cross-Origin-Opener-Policy``.
* ``Strict-Transport-Security`` when the request came over HTTPS (directly, or ``X-Forwarded-Proto: https``
  from a trusted reverse proxy) or when ``cookie_secure`` says the site is served over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self'",
        "manifest-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Swagger UI and ReDoc are served from our own build (npm packages, no CDN: government networks are closed);
# their one inline script is allowed by its hash, computed from the page itself, never by 'unsafe-inline'.
DOCS_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self' {hashes}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age={seconds}; includeSubDomains"
STATIC_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "cross-origin-opener-policy": "same-origin",
}
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions (``'sha256-…'``) for each inline ``<script>`` of an HTML page."""
    out = []
    for m in _INLINE_SCRIPT.finditer(html):
        digest = base64.b64encode(hashlib.sha256(m.group(1)).digest()).decode()
        out.append(f"'sha256-{digest}'")
    return out


def policy_for(content_type: str) -> str:
    """Pages, and scripts (a service worker runs under the policy sent with its own script), get the page
    policy; everything else the API one."""
    if content_type.startswith(("text/html", "text/javascript", "application/javascript")):
        return PAGE_CSP
    return API_CSP


def is_https(scope: Scope) -> bool:
    """Whether the request reached us over TLS: directly, or through a trusted proxy, whose
    ``X-Forwarded-Proto`` :class:`cityops.urls.ForwardedHeadersMiddleware` (outermost) has already applied to the
    scope. The header itself is not read here: from anyone else it is a client's claim."""
    return bool(scope.get("scheme") in ("https", "wss"))


class SecurityHeadersMiddleware:
    """Pure ASGI middleware adding the headers above to every HTTP response."""

    def __init__(
        self, app: ASGIApp, *, hsts_seconds: int, always_https: bool, docs_paths: frozenset[str]
    ) -> None:
        self.app = app
        self.hsts_seconds = hsts_seconds
        self.always_https = always_https
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        hsts = self.hsts_seconds > 0 and (self.always_https or is_https(scope))
        if scope.get("path") in self.docs_paths:
            await self._docs(scope, receive, send, hsts)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                self._common(headers, hsts)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = policy_for(headers.get("content-type", ""))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _common(self, headers: MutableHeaders, hsts: bool) -> None:
        for name, value in STATIC_HEADERS.items():
            if name not in headers:
                headers[name] = value
        if hsts:
            headers["strict-transport-security"] = HSTS.format(seconds=self.hsts_seconds)

    async def _docs(self, scope: Scope, receive: Receive, send: Send, hsts: bool) -> None:
        """The docs pages are small: buffer one, hash its inline scripts, then send it with its policy."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                assert start is not None
                body = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                self._common(headers, hsts)
                headers["content-security-policy"] = DOCS_CSP.format(hashes=" ".join(script_hashes(body)))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, buffer)

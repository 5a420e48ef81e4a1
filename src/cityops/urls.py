"""Absolute links that resolve wherever the server is reached.

Links (STA selfLinks and nextLinks, ``Location`` headers, media URLs, Open311 answers) are built from the
request that asked for them, so a server on port 18351, or behind nginx on ``https://ioc.example.vn``,
hands out links to itself and not to a default. A configured ``public_url`` wins (a deployment that knows
its canonical address says so); without one the request's scheme, host and port are used.

A reverse proxy changes what the server sees: the connection comes from the proxy, over plain HTTP, with
the proxy's own ``Host``. The proxy says what the client asked for in ``X-Forwarded-Proto``,
``X-Forwarded-Host`` and ``X-Forwarded-For``; :class:`ForwardedHeadersMiddleware` believes those headers
only from the addresses in ``trusted_proxies`` (anyone else could send them to forge links or dodge per-IP
limits) and rewrites the ASGI scope once, so every part of the app (links, rate limits, HSTS, audit IPs)
sees the client's view. It replaces uvicorn's own proxy-header handling, which knows nothing of the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from cityops.settings import Settings, SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> list[Network]:
    """``"127.0.0.1, 10.0.0.0/8, ::1"`` as networks; raises ``ValueError`` naming a bad entry."""
    out: list[Network] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return out


def trusted_networks(settings: Settings) -> list[Network]:
    """``trusted_proxies`` parsed; a bad entry stops start-up with a :class:`SettingsError` naming it."""
    try:
        return parse_networks(settings.trusted_proxies)
    except ValueError as exc:
        raise SettingsError(f"Invalid cityops configuration:\n  CITYOPS_TRUSTED_PROXIES: {exc}") from None


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # a Unix socket peer or a test client's name: never a proxy
        return False
    return any(ip in net for net in networks)


def _first(value: bytes) -> str:
    """The first entry of a comma-separated forwarded header (the one the first proxy set)."""
    return value.decode("latin-1").split(",")[0].strip()


class ForwardedHeadersMiddleware:
    """Pure ASGI middleware: from a trusted proxy, take the scheme, host and client address the proxy
    forwards; from anyone else, leave the scope as the connection made it."""

    FORWARDED = (b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-for")

    def __init__(self, app: ASGIApp, *, trusted: list[Network]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in {"http", "websocket"}:
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        forwarded = {k: v for k, v in headers if k in self.FORWARDED}
        if not forwarded:
            return scope
        client = scope.get("client")
        if client is None or not _trusted(str(client[0]), self.trusted):
            return scope
        scope = dict(scope)
        proto = forwarded.get(b"x-forwarded-proto")
        if proto is not None and _first(proto).lower() in {"http", "https"}:
            secure = _first(proto).lower() == "https"
            if scope["type"] == "websocket":
                scope["scheme"] = "wss" if secure else "ws"
            else:
                scope["scheme"] = "https" if secure else "http"
        host = forwarded.get(b"x-forwarded-host")
        if host is not None and _first(host):
            value = _first(host).encode("latin-1")
            scope["headers"] = [(k, v) for k, v in headers if k != b"host"] + [(b"host", value)]
        chain = forwarded.get(b"x-forwarded-for")
        if chain is not None:
            # The client is the nearest address that is not one of our proxies (proxies append on the right).
            hops = [h.strip() for h in chain.decode("latin-1").split(",") if h.strip()]
            for hop in reversed(hops):
                if not _trusted(hop, self.trusted):
                    scope["client"] = (hop, 0)
                    break
            else:
                if hops:
                    scope["client"] = (hops[0], 0)
        return scope


def public_base(conn: HTTPConnection) -> str:
    """The base URL links start with, without a trailing slash: ``public_url`` when configured, else the
    scheme, host and port the client used (after :class:`ForwardedHeadersMiddleware`)."""
    settings: Settings = conn.app.state.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(conn.base_url).rstrip("/")


def configured_base(settings: Settings) -> str:
    """The base URL for links made outside any request (MQTT notifications, e-mails): ``public_url``, else
    the address ``cityops serve`` listens on (a wildcard bind as the loopback address)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    wildcard = {"0.0.0.0", "::", ""}  # noqa: S104 - recognising a wildcard bind, not binding
    host = "127.0.0.1" if settings.host in wildcard else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"

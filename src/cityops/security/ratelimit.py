"""Per-client-IP rate limits on the routes anyone can call without an account.

Anonymous report submission (and its photo uploads) and one-time-code requests are limited per client IP
(the proxy-resolved address uvicorn puts in the ASGI scope) with a sliding window; over the limit the
request is refused with 429 and ``Retry-After``. Sign-in is throttled by identity (per account and IP,
in the database) and one-time codes per phone number by notify; this adds what they cannot see.

The counters live in this process: right for one node. Behind several workers each keeps its own counts,
so the effective limit is multiplied by the number of workers (docs/security.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cityops.errors import ApiError, error_response
from cityops.settings import Settings

WINDOW_SECONDS = 3600.0
MAX_TRACKED_KEYS = 100_000  # oldest keys are forgotten first; bounds memory under a spoofed-IP flood
CREDENTIAL_HEADERS = (b"authorization", b"x-api-key")


@dataclass(frozen=True)
class Rule:
    """``limit`` requests per client IP per ``window`` seconds on ``method path`` (exact path)."""

    name: str
    method: str
    path: str
    limit: int
    window: float = WINDOW_SECONDS
    anonymous_only: bool = True


def default_rules(settings: Settings) -> list[Rule]:
    return [
        Rule("report_submit", "POST", "/api/v1/reports", settings.security_submit_per_ip_per_hour),
        Rule("report_upload", "POST", "/api/v1/reports/media", settings.security_upload_per_ip_per_hour),
        Rule("otp_request", "POST", "/api/v1/reports/auth/otp", settings.security_otp_per_ip_per_hour),
    ]


class RateLimiter:
    """Sliding-window counters per key, in memory, thread safe. ``clock`` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_TRACKED_KEYS) -> None:
        self.clock = clock
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> int:
        """Count one request for ``key``; return 0 when allowed, else the seconds to wait (not counted)."""
        now = self.clock()
        with self._lock:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
                while len(self._hits) > self.max_keys:
                    self._hits.popitem(last=False)
            else:
                self._hits.move_to_end(key)
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1, math.ceil(hits[len(hits) - limit] + window - now))
            hits.append(now)
            return 0

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Pure ASGI middleware applying :class:`Rule` s with one :class:`RateLimiter`."""

    def __init__(self, app: ASGIApp, *, rules: list[Rule], limiter: RateLimiter) -> None:
        self.app = app
        self.rules = {(r.method, r.path): r for r in rules}
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            rule = self.rules.get((scope.get("method", ""), scope.get("path", "").rstrip("/")))
            if rule is not None and not (rule.anonymous_only and _has_credentials(scope)):
                wait = self.limiter.hit(f"{rule.name}:{client_ip(scope)}", rule.limit, rule.window)
                if wait:
                    err = ApiError(
                        429,
                        "Too many requests from this address; try again later",
                        code="rate_limited",
                        details={
                            "retry_after": wait,
                            "limit": rule.limit,
                            "window_seconds": int(rule.window),
                        },
                        headers={"Retry-After": str(wait)},
                    )
                    await error_response(Request(scope), err)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _has_credentials(scope: Scope) -> bool:
    """Bearer tokens and API keys are checked strictly (a wrong one is a 401), so a request carrying one
    is not anonymous. A session cookie is not enough: a stale one is ignored, the request stays anonymous."""
    return any(name in CREDENTIAL_HEADERS for name, _ in scope.get("headers", []))

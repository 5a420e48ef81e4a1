"""Per-client-IP rate limits on the routes anyone can call without an account.

Anonymous report submission (and its photo uploads) and one-time-code requests are limited per client IP
(the proxy-resolved address uvicorn puts in the ASGI scope) with a sliding window; over the limit the
request is refused with 429 and ``Retry-After``. Sign-in is throttled by identity (per account and IP,
in the database) and one-time codes per phone number by notify; this adds what they cannot see.

By default the counters live in this process: right for one node. Behind several workers or nodes, set
``security_rate_limit_redis_url`` and every process counts in one Redis (a sorted set per key, updated by
one atomic script on Redis's own clock), so the limit holds across them. If Redis cannot be reached the
process falls back to its own counters rather than refusing or waving through every citizen (logged).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
import uuid
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cityops.errors import ApiError, error_response
from cityops.settings import Settings

log = logging.getLogger(__name__)

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

    async def ahit(self, key: str, limit: int, window: float) -> int:
        return self.hit(key, limit, window)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


# Sliding-window log in a sorted set, on the server's clock so every worker and node agrees. Returns 0 when
# the hit is counted, else the whole seconds until the oldest hit inside the limit leaves the window.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return 0
"""


class RedisRateLimiter:
    """The same sliding windows, shared by every process that uses the same Redis and ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "cityops:ratelimit:", fallback: RateLimiter | None = None):
        self.url = url
        self.prefix = prefix
        self.fallback = fallback or RateLimiter()
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = weakref.WeakKeyDictionary()
        self._warned_at = -math.inf

    def _client(self) -> tuple[aioredis.Redis, Any]:
        """A connection pool per event loop: an asyncio connection cannot be used from another loop."""
        loop = asyncio.get_running_loop()
        pair = self._clients.get(loop)
        if pair is None:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
            pair = self._clients[loop] = (client, client.register_script(_SLIDING_WINDOW_LUA))
        return pair

    async def ahit(self, key: str, limit: int, window: float) -> int:
        try:
            wait = await self._client()[1](keys=[self.prefix + key], args=[window, limit, uuid.uuid4().hex])
        except (RedisError, OSError) as exc:
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                log.warning(
                    "rate limiter: Redis at %s unreachable (%s); counting in this process", self.url, exc
                )
            return await self.fallback.ahit(key, limit, window)
        return int(wait)

    async def areset(self) -> None:
        client = self._client()[0]
        async for name in client.scan_iter(match=self.prefix + "*"):
            await client.delete(name)
        self.fallback.reset()


def make_limiter(settings: Settings) -> RateLimiter | RedisRateLimiter:
    """The limiter the settings ask for: shared through Redis, or this process's own."""
    if settings.security_rate_limit_redis_url:
        return RedisRateLimiter(settings.security_rate_limit_redis_url)
    return RateLimiter()


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """Pure ASGI middleware applying :class:`Rule` s with one :class:`RateLimiter`."""

    def __init__(self, app: ASGIApp, *, rules: list[Rule], limiter: RateLimiter | RedisRateLimiter) -> None:
        self.app = app
        self.rules = {(r.method, r.path): r for r in rules}
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            rule = self.rules.get((scope.get("method", ""), scope.get("path", "").rstrip("/")))
            if rule is not None and not (rule.anonymous_only and _has_credentials(scope)):
                wait = await self.limiter.ahit(f"{rule.name}:{client_ip(scope)}", rule.limit, rule.window)
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

"""API key quotas: requests per minute and per day, counted per key, refused with 429 past the limit.

Every request made with an ``X-API-Key`` (whatever the route, public ones too) is counted by
:class:`QuotaMiddleware` in two fixed windows: the current UTC minute and the
current day in Asia/Ho_Chi_Minh (a daily quota resets at local midnight). When a key has a quota
(``ApiKey.quota_per_minute`` / ``quota_per_day``, set by an admin) and the window is full, the request is
refused with 429 and ``Retry-After`` (the seconds until that window ends) in the API family's error
format, and it is not counted. An admin reads the counts (:meth:`QuotaStore.usage`).

The counters live in this process by default; with ``security_rate_limit_redis_url`` set (the store of the
per-IP limiter, :mod:`cityops.security.ratelimit`) every worker and node counts in the same Redis, one
atomic script per request. If Redis cannot be reached the process counts on its own (logged), rather than
refusing every integrator.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from anyio import to_thread
from redis.exceptions import RedisError
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from cityops.errors import ApiError, error_response
from cityops.identity.tokens import find_api_key
from cityops.settings import Settings

log = logging.getLogger(__name__)

LOCAL_OFFSET_SECONDS = 7 * 3600  # Asia/Ho_Chi_Minh has no daylight saving time
MINUTE, DAY = 60, 86400
KEY_CACHE_SECONDS = 30.0  # a quota an admin changes applies within this (at once on the node that set it)
KEY_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class Windows:
    """The window indices of a moment (``now`` in epoch seconds) and the seconds left in each."""

    minute: int
    day: int
    minute_left: int
    day_left: int

    @classmethod
    def at(cls, now: float) -> Windows:
        local = now + LOCAL_OFFSET_SECONDS
        return cls(
            int(now // MINUTE),
            int(local // DAY),
            max(1, math.ceil(MINUTE - now % MINUTE)),
            max(1, math.ceil(DAY - local % DAY)),
        )


@dataclass(frozen=True, slots=True)
class Hit:
    """The outcome of one request: ``refused`` is ``""``, ``"minute"`` or ``"day"``; the counts after it."""

    refused: str
    minute_count: int
    day_count: int


class QuotaStore(Protocol):
    def hit(self, key_id: int, per_minute: int | None, per_day: int | None, w: Windows) -> Hit: ...

    def usage(self, key_id: int, w: Windows) -> tuple[int, int]: ...


class LocalQuotaStore:
    """Counters in this process (thread safe); windows of other minutes and days are dropped as they pass."""

    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, int], int] = {}
        self._lock = threading.Lock()
        self._minute = -1

    def _prune(self, w: Windows) -> None:
        if w.minute != self._minute:
            self._minute = w.minute
            self._counts = {
                k: v
                for k, v in self._counts.items()
                if (k[1] == "m" and k[2] == w.minute) or (k[1] == "d" and k[2] == w.day)
            }

    def hit(self, key_id: int, per_minute: int | None, per_day: int | None, w: Windows) -> Hit:
        with self._lock:
            self._prune(w)
            m = self._counts.get((key_id, "m", w.minute), 0)
            d = self._counts.get((key_id, "d", w.day), 0)
            if per_minute is not None and m >= per_minute:
                return Hit("minute", m, d)
            if per_day is not None and d >= per_day:
                return Hit("day", m, d)
            self._counts[(key_id, "m", w.minute)] = m + 1
            self._counts[(key_id, "d", w.day)] = d + 1
            return Hit("", m + 1, d + 1)

    def usage(self, key_id: int, w: Windows) -> tuple[int, int]:
        with self._lock:
            self._prune(w)
            return self._counts.get((key_id, "m", w.minute), 0), self._counts.get((key_id, "d", w.day), 0)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


# KEYS: minute counter, day counter; ARGV: minute limit, day limit (-1: none). Returns {refused, m, d} with
# refused 0 (counted), 1 (minute full) or 2 (day full).
_HIT_LUA = """
local m = tonumber(redis.call('GET', KEYS[1]) or '0')
local d = tonumber(redis.call('GET', KEYS[2]) or '0')
local lm = tonumber(ARGV[1])
local ld = tonumber(ARGV[2])
if lm >= 0 and m >= lm then return {1, m, d} end
if ld >= 0 and d >= ld then return {2, m, d} end
m = redis.call('INCR', KEYS[1])
if m == 1 then redis.call('EXPIRE', KEYS[1], 120) end
d = redis.call('INCR', KEYS[2])
if d == 1 then redis.call('EXPIRE', KEYS[2], 172800) end
return {0, m, d}
"""


class RedisQuotaStore:
    """The same counters in Redis, shared by every process using the same URL and ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "cityops:quota:", fallback: LocalQuotaStore | None = None):
        self.url = url
        self.prefix = prefix
        self.fallback = fallback or LocalQuotaStore()
        self.client: Any = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
        self._script = self.client.register_script(_HIT_LUA)
        self._warned_at = -math.inf

    def _keys(self, key_id: int, w: Windows) -> list[str]:
        return [f"{self.prefix}{key_id}:m:{w.minute}", f"{self.prefix}{key_id}:d:{w.day}"]

    def _unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:
            self._warned_at = now
            log.warning("quotas: Redis at %s unreachable (%s); counting in this process", self.url, exc)

    def hit(self, key_id: int, per_minute: int | None, per_day: int | None, w: Windows) -> Hit:
        limits = [-1 if per_minute is None else per_minute, -1 if per_day is None else per_day]
        try:
            refused, m, d = self._script(keys=self._keys(key_id, w), args=limits)
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return self.fallback.hit(key_id, per_minute, per_day, w)
        return Hit({0: "", 1: "minute", 2: "day"}[int(refused)], int(m), int(d))

    def usage(self, key_id: int, w: Windows) -> tuple[int, int]:
        try:
            m, d = self.client.mget(self._keys(key_id, w))
        except (RedisError, OSError) as exc:
            self._unreachable(exc)
            return self.fallback.usage(key_id, w)
        return int(m or 0), int(d or 0)

    def reset(self) -> None:
        for name in self.client.scan_iter(match=self.prefix + "*"):
            self.client.delete(name)
        self.fallback.reset()


def make_store(settings: Settings) -> LocalQuotaStore | RedisQuotaStore:
    """Shared through Redis when ``security_rate_limit_redis_url`` is set, else this process's own."""
    if settings.security_rate_limit_redis_url:
        return RedisQuotaStore(settings.security_rate_limit_redis_url)
    return LocalQuotaStore()


def enforce(store: QuotaStore, key_id: int, per_minute: int | None, per_day: int | None) -> None:
    """Count one request of key ``key_id``; raise the 429 when a quota is full (nothing counted then)."""
    w = Windows.at(time.time())
    hit = store.hit(key_id, per_minute, per_day, w)
    if not hit.refused:
        return
    minute = hit.refused == "minute"
    wait = w.minute_left if minute else w.day_left
    raise ApiError(
        429,
        f"This API key's quota of requests per {hit.refused} is used up; try again later",
        code="quota_exceeded",
        details={
            "quota": hit.refused,
            "limit": per_minute if minute else per_day,
            "used": hit.minute_count if minute else hit.day_count,
            "retry_after": wait,
        },
        headers={"Retry-After": str(wait)},
    )


def usage_view(
    store: QuotaStore, key_id: int, per_minute: int | None, per_day: int | None
) -> dict[str, dict[str, int | None]]:
    """What an admin sees of a key's use: per window, its limit, the requests counted and when it resets."""
    w = Windows.at(time.time())
    m, d = store.usage(key_id, w)
    return {
        "minute": {"limit": per_minute, "used": m, "resets_in_seconds": w.minute_left},
        "day": {"limit": per_day, "used": d, "resets_in_seconds": w.day_left},
    }


Limits = tuple[int, int | None, int | None]  # key id, per minute, per day


class KeyCache:
    """API keys' limits by key string, for KEY_CACHE_SECONDS (bounded); shared by the middleware and the
    admin routes, which empty it when a quota changes."""

    def __init__(self) -> None:
        self._cache: OrderedDict[str, tuple[float, Limits | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> tuple[bool, Limits | None]:
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return True, cached[1]
        return False, None

    def put(self, key: str, now: float, limits: Limits | None) -> None:
        with self._lock:
            self._cache[key] = (now + KEY_CACHE_SECONDS, limits)
            self._cache.move_to_end(key)
            while len(self._cache) > KEY_CACHE_SIZE:
                self._cache.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


class QuotaMiddleware:
    """Pure ASGI middleware counting requests that carry ``X-API-Key`` against that key's quotas.

    A key is looked up by its digest (in a worker thread) and its limits cached (:class:`KeyCache`); an
    unknown, revoked or expired key passes through untouched (the route's authentication answers 401).
    """

    def __init__(self, app: ASGIApp, *, sessions: Any, store: QuotaStore, cache: KeyCache) -> None:
        self.app = app
        self.sessions: sessionmaker[Session] | None = sessions
        self.store = store
        self.cache = cache

    def _lookup(self, key: str) -> Limits | None:
        assert self.sessions is not None
        with self.sessions() as session:
            row = find_api_key(session, key)
            return (row.id, row.quota_per_minute, row.quota_per_day) if row is not None else None

    async def _limits(self, key: str) -> Limits | None:
        now = time.monotonic()
        found, limits = self.cache.get(key, now)
        if not found:
            limits = await to_thread.run_sync(self._lookup, key)
            self.cache.put(key, now, limits)
        return limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.sessions is not None:
            raw = next((v for k, v in scope.get("headers", ()) if k == b"x-api-key"), None)
            limits = await self._limits(raw.decode("latin-1").strip()) if raw else None
            if limits is not None:
                try:
                    await to_thread.run_sync(enforce, self.store, *limits)
                except ApiError as err:
                    await error_response(Request(scope), err)(scope, receive, send)
                    return
        await self.app(scope, receive, send)

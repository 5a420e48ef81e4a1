"""Default plugin registration for the security middleware (headers, body limits, rate limits)."""

from __future__ import annotations

from fastapi import FastAPI

from cityops.plugins import hookimpl
from cityops.security.headers import SecurityHeadersMiddleware
from cityops.security.limits import BodyLimitMiddleware, BodyLimits, install_out_of_range_handler
from cityops.security.quotas import KeyCache, QuotaMiddleware, make_store
from cityops.security.quotas_api import router as quotas_router
from cityops.security.ratelimit import RateLimitMiddleware, default_rules, make_limiter
from cityops.security.security_txt import router as security_txt_router
from cityops.settings import Settings


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    # The last added is the outermost: headers reach the 413 and 429 answers of the two inner ones.
    install_out_of_range_handler(app)
    app.include_router(security_txt_router)
    app.include_router(quotas_router)
    app.state.quota_store, app.state.quota_keys = make_store(settings), KeyCache()
    limiter = make_limiter(settings)
    app.state.rate_limiter = limiter
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(settings))
    app.add_middleware(RateLimitMiddleware, rules=default_rules(settings), limiter=limiter)
    app.add_middleware(
        QuotaMiddleware,
        sessions=getattr(app.state, "sessions", None),
        store=app.state.quota_store,
        cache=app.state.quota_keys,
    )
    docs = frozenset(p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p)
    app.add_middleware(
        SecurityHeadersMiddleware,
        hsts_seconds=settings.security_hsts_seconds,
        always_https=settings.cookie_secure,
        docs_paths=docs,
    )

"""The ASGI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from cityops import __version__, errors, openapi
from cityops.db import make_engine, make_sessionmaker
from cityops.ops.logs import configure_logging
from cityops.plugins import plugin_manager, sync_declarations
from cityops.settings import Environment, Settings, load_settings
from cityops.urls import ForwardedHeadersMiddleware, trusted_networks
from cityops.web import apidocs


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: database, plugins' routes, error formats. The bus starts in the lifespan."""
    settings = settings or load_settings()
    configure_logging(settings)
    pm = plugin_manager()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The plugins' declarations reach their tables first (tests make their own rows), then the async
        # start-ups registered while building the app (the bus first), then the startup hook ("after the
        # database and bus are ready"), then any async start-ups that hook added.
        if settings.env is not Environment.TEST:
            _sync_declarations(app)
        started = list(app.state.async_startup)
        for start in started:
            await start(app)
        pm.hook.startup(app=app)
        for start in list(app.state.async_startup)[len(started) :]:
            await start(app)
        try:
            yield
        finally:
            pm.hook.shutdown(app=app)
            for stop in reversed(list(app.state.async_shutdown)):
                await stop(app)
            app.state.engine.dispose()

    app = FastAPI(
        title="cityops",
        version=__version__,
        description="Smart-city services platform: citizen reports, sensors, alerts, open data.",
        lifespan=lifespan,
        docs_url=None,  # cityops.web.apidocs serves /docs and /redoc from the front-end build (no CDN)
        redoc_url=None,
    )
    engine = make_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = make_sessionmaker(engine)
    app.state.plugins = pm
    # Plugins append coroutine functions taking the app; run in order on start, reversed on stop.
    app.state.async_startup = []
    app.state.async_shutdown = []
    errors.install(app)
    openapi.install(app)  # the native error responses, declared once for every /api/v1 operation
    apidocs.install(app)  # before the plugins: the security headers look up the docs pages' paths
    pm.hook.register_routes(app=app, settings=settings)
    _prefilter(app)  # after every route is registered
    # Added last, so outermost: every middleware and route sees the client's scheme, host and address.
    app.add_middleware(ForwardedHeadersMiddleware, trusted=trusted_networks(settings))
    return app


def _sync_declarations(app: FastAPI) -> None:
    """Every plugin's ``sync_declarations``; a database not migrated yet only logs (``/readyz`` tells), a wrong
    declaration (:class:`~cityops.specs.SpecError`) stops start-up."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        sync_declarations(app.state.sessions)
    except SQLAlchemyError:
        log = logging.getLogger("cityops")
        log.warning("declarations not synced (is the database migrated?)", exc_info=True)


def _prefilter(app: FastAPI) -> None:
    """Speed up routing where this FastAPI release allows; it rests on FastAPI internals, so a release
    that changed them gets plain FastAPI routing (slower, same answers) and a warning, never a failure."""
    try:
        from cityops.ops.route_prefilter import prefilter_routes

        prefilter_routes(app)
    except (ImportError, AttributeError) as exc:
        logging.getLogger("cityops").warning("route prefilter off with this FastAPI release: %s", exc)


# The cycle collector's thresholds in a served process (CPython's default is (700, 10, 10)).
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Make the cycle collector cheap in a long-running server: freeze what start-up built (modules,
    routes, caches: never garbage) and collect the young generation less often. With the defaults a
    5,000-row ingest batch (tens of thousands of objects) set off repeated walks of the whole heap,
    ~2–3 µs of CPU per observation. Objects still die by reference counting as soon as they are unused;
    only cycles wait longer. Not for tests: they build many apps in one process."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def served_app() -> FastAPI:
    """The app ``cityops serve`` runs in each worker: :func:`create_app` plus :func:`tune_gc` once the
    whole start-up (async start-ups and the ``startup`` hook) has run, so what it built is frozen too."""
    app = create_app()
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with started(app) as state:
            tune_gc()
            yield state

    app.router.lifespan_context = lifespan
    return app

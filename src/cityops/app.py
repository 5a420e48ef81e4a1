"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from cityops import __version__, errors
from cityops.db import make_engine, make_sessionmaker
from cityops.ops.logs import configure_logging
from cityops.plugins import plugin_manager
from cityops.settings import Settings, load_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: database, plugins' routes, error formats. The bus starts in the lifespan."""
    settings = settings or load_settings()
    configure_logging(settings)
    pm = plugin_manager()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Async start-ups registered while building the app (the bus first), then the startup hook
        # ("after the database and bus are ready"), then any async start-ups that hook added.
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
    pm.hook.register_routes(app=app, settings=settings)
    _prefilter(app)  # after every route is registered
    return app


def _prefilter(app: FastAPI) -> None:
    """Speed up routing where this FastAPI release allows; it rests on FastAPI internals, so a release
    that changed them gets plain FastAPI routing (slower, same answers) and a warning, never a failure."""
    try:
        from cityops.ops.route_prefilter import prefilter_routes

        prefilter_routes(app)
    except (ImportError, AttributeError) as exc:
        logging.getLogger("cityops").warning("route prefilter off with this FastAPI release: %s", exc)

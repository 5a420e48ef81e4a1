"""Default plugin registration for the web front ends."""

from __future__ import annotations

import asyncio
import logging

from fastapi import FastAPI

from cityops.plugins import hookimpl
from cityops.settings import Settings
from cityops.web import ioc, pages, stream
from cityops.web.assets import DIST, CachedStatic

log = logging.getLogger("cityops.web")


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    app.state.web_dist = DIST
    app.state.live = stream.LiveStream()
    app.include_router(pages.router)
    app.include_router(stream.router)
    app.include_router(ioc.router)
    app.mount("/static/dist", CachedStatic(directory=DIST, check_dir=False), name="web-static")

    async def attach_live(app: FastAPI) -> None:
        live: stream.LiveStream = app.state.live
        live.bind(asyncio.get_running_loop())
        bus = getattr(app.state, "bus", None)
        if bus is None:
            log.warning("no event bus on app.state: the live stream stays silent")
            return
        bus.add_publish_listener(live.on_publish)

    app.state.async_startup.append(attach_live)

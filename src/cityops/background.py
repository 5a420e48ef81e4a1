"""Background loops that run with the server: started after the app starts, cancelled when it stops."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI


def run_in_background(app: FastAPI, loop: Callable[[FastAPI], Coroutine[Any, Any, None]]) -> None:
    """Run ``loop(app)`` as a task from the app's start until its stop (through the ``async_startup`` and
    ``async_shutdown`` lists every plugin uses)."""
    tasks: list[asyncio.Task[None]] = []

    async def start(app: FastAPI) -> None:
        tasks.append(asyncio.create_task(loop(app)))

    async def stop(app: FastAPI) -> None:
        while tasks:
            task = tasks.pop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.state.async_startup.append(start)
    app.state.async_shutdown.append(stop)

"""Fixtures of the web front-end tests: a real uvicorn server on a free port and Debian's Chromium.

Browser tests drive ``/usr/bin/chromium`` through Playwright for Python (never ``playwright install``).
Screenshots go to ``test-artifacts/web/`` (git-ignored). Without Chromium the browser tests skip, except
with CI=true where they fail (``make test`` installs it through ``scripts/system-deps.sh``).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from cityops.web.assets import DIST
from tests.services import IN_CI

CHROMIUM = Path(os.environ.get("CITYOPS_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def require_built() -> None:
    if (DIST / "manifest.json").is_file():
        return
    message = "web front end not built: run `make frontend`"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    app: FastAPI
    url: str
    server: uvicorn.Server


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    """The app served by uvicorn in a thread on a free localhost port (lifespan on: bus and plugins start)."""
    require_built()
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-web-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}", server=server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Debian Chromium per test process, with a fresh user-data directory."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (scripts/system-deps.sh installs Debian's chromium)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra not installed
        if IN_CI:
            pytest.fail("playwright (Python) is not installed", pytrace=False)
        pytest.skip("playwright (Python) is not installed")
    # Playwright starts Chromium with a fresh temporary user-data directory of its own on each launch.
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_context(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser profile (own storage, service workers, cookies) pointed at the live server."""
    context = chromium.new_context(
        base_url=live_server.url,
        locale="vi-VN",
        timezone_id="Asia/Ho_Chi_Minh",
        geolocation={"latitude": 10.5359, "longitude": 106.4137},  # Tân An
        permissions=["geolocation"],
        viewport={"width": 412, "height": 860},
    )
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``shot(page, name)`` saves a screenshot under test-artifacts/web/<test>-<name>.png."""

    def take(page: Any, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        test = request.node.name.replace("[", "-").replace("]", "").replace("/", "_")
        path = ARTIFACTS / f"{test}-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take

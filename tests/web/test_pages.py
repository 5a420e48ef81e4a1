"""The web capability's HTTP side: pages, bundles, cache headers, CSP, service worker, manifest, live stream."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.events.bus import Event
from cityops.web.assets import manifest
from cityops.web.stream import LiveStream, format_sse
from tests.web.conftest import require_built


@pytest.fixture(autouse=True)
def _built() -> None:
    require_built()


@pytest.mark.parametrize("path", ["/", "/officer", "/ioc"])
def test_pages_are_served_with_csp_and_hashed_bundles(client: TestClient, path: str) -> None:
    res = client.get(path)
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/html")
    csp = res.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert res.headers["cache-control"] == "no-cache"
    html = res.text
    assert '<html lang="vi">' in html
    # no inline script: every <script> has a same-origin src
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts
    assert all('src="/static/dist/' in attrs and not body.strip() for attrs, body in scripts)
    assert "http://" not in html
    assert "https://" not in html


def test_bundles_are_immutable_and_unknown_files_404(client: TestClient) -> None:
    built = manifest()
    assert built is not None
    js = built["apps"]["citizen"]["js"]
    res = client.get(f"/static/dist/{js}")
    assert res.status_code == 200
    assert "immutable" in res.headers["cache-control"]
    assert res.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert client.get("/static/dist/nope-XXXX.js").status_code == 404
    assert client.get("/static/dist/../../assets.py").status_code == 404


def test_bundles_load_nothing_from_the_internet(client: TestClient) -> None:
    built = manifest()
    assert built is not None
    for app in built["apps"].values():
        for kind in ("js", "css"):
            if not app[kind]:
                continue
            body = client.get(f"/static/dist/{app[kind]}").text
            # nothing fetched from a CDN or tile server at run time (plain links and comments aside)
            fetched = re.findall(r"""(?:src=|url\()["' ]*https?://[^"')\s]+""", body)
            assert fetched == [], fetched


def test_service_worker_has_root_scope(client: TestClient) -> None:
    res = client.get("/sw.js")
    assert res.status_code == 200
    assert res.headers["service-worker-allowed"] == "/"
    assert res.headers["cache-control"] == "no-cache"
    assert "cityops-shell-" in res.text


def test_web_manifest_is_installable(client: TestClient) -> None:
    res = client.get("/manifest.webmanifest")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("application/manifest+json")
    data = res.json()
    assert data["lang"] == "vi"
    assert data["start_url"] == "/"
    assert data["display"] == "standalone"
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200
    assert client.get("/manifest.webmanifest", params={"lang": "en"}).json()["lang"] == "en"


def test_format_sse_keeps_only_public_fields() -> None:
    event = Event("cases.created", {"id": 7, "ref": "PA-2026-000007", "phone": "0909123456", "name": "Lan"})
    text = format_sse(event).decode()
    assert text.startswith(f"id: {event.id}\nevent: cases.created\ndata: ")
    assert text.endswith("\n\n")
    assert "PA-2026-000007" in text
    assert "0909123456" not in text
    assert "Lan" not in text


def test_live_stream_filters_subjects() -> None:
    live = LiveStream()
    assert live.wants("cases.created")
    assert live.wants("alerts.opened")
    assert not live.wants("identity.login")


@pytest.mark.parametrize(
    ("accept", "encoding"), [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("identity", None)]
)
def test_bundles_are_sent_precompressed_when_accepted(
    client: TestClient, accept: str, encoding: str | None
) -> None:
    built = manifest()
    assert built is not None
    js = built["apps"]["citizen"]["js"]
    sizes = built["compressed"][js]
    with client.stream("GET", f"/static/dist/{js}", headers={"Accept-Encoding": accept}) as res:
        assert res.status_code == 200
        raw = b"".join(res.iter_raw())
    assert res.headers.get("content-encoding") == encoding
    assert res.headers["content-type"].startswith("text/javascript")
    assert "immutable" in res.headers["cache-control"]
    assert len(raw) == sizes[{"br": "br", "gzip": "gzip", None: "raw"}[encoding]]


def in_own_loop(fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``fn()`` in a fresh event loop on its own thread (Playwright's sync API may hold this one)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    if errors:
        raise errors[0]


def test_live_stream_replays_what_a_reconnecting_browser_missed() -> None:
    in_own_loop(_replays)


async def _replays() -> None:
    live = LiveStream()
    live.bind(asyncio.get_running_loop())
    first = Event("cases.created", {"id": 1})
    second = Event("alerts.opened", {"alert_id": 2, "message_vi": "Mặn"})
    ignored = Event("identity.login", {"user_id": 3})
    for event in (first, ignored, second):
        live.on_publish(event)
    assert live.missed(first.id) == [format_sse(second)]
    assert live.missed(second.id) == []
    assert live.missed("unknown-id") == []
    assert live.missed(None) == []


def test_live_stream_ends_by_itself_and_delivers_events() -> None:
    in_own_loop(_ends_and_delivers)


async def _ends_and_delivers() -> None:
    class FakeRequest:
        async def is_disconnected(self) -> bool:
            return False

    live = LiveStream(stream_seconds=0.5)
    live.bind(asyncio.get_running_loop())
    got: list[bytes] = []

    async def consume() -> None:
        async for chunk in live.messages(FakeRequest(), None):  # type: ignore[arg-type]
            got.append(chunk)
            if len(got) == 1:
                live.on_publish(Event("alerts.opened", {"alert_id": 9}))

    await asyncio.wait_for(consume(), timeout=5)  # returns: the stream closed itself
    assert got[0].startswith(b"retry: ")
    assert any(b"event: alerts.opened" in chunk for chunk in got)
    assert live.clients == 0


def test_pages_say_how_to_build_when_the_front_end_is_missing(app: Any, tmp_path: Any) -> None:
    app.state.web_dist = tmp_path  # an empty build folder
    with TestClient(app) as c:
        res = c.get("/officer")
        assert res.status_code == 503
        assert "make frontend" in res.text
        assert c.get("/sw.js").status_code == 404

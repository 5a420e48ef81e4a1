"""A user @context is fetched once over HTTP (timeout, cached) and then answered from the cache; the
ETSI core context URLs never leave the process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.ngsild import context as ctx

E = "/ngsi-ld/v1/entities"


@pytest.fixture
def context_server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = json.dumps({"@context": {"speed": "https://example.org/speed"}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/ld+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ctx.jsonld", hits
    finally:
        server.shutdown()
        server.server_close()


def test_user_context_is_fetched_once_and_linked_back(
    client: TestClient, context_server: tuple[str, list[str]]
) -> None:
    url, hits = context_server
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    for _ in range(3):
        got = client.get(E, params={"type": "Vehicle"}, headers={"Link": link})
        assert got.status_code == 200, got.text
        assert url in got.headers["link"]
    assert hits == ["/ctx.jsonld"]


def test_core_context_urls_are_answered_from_the_package() -> None:
    for url in (
        *ctx.ETSI_ALIASES,
        "http://cityops.example/ngsi-ld/contexts/ngsi-ld-core-context-v1.9.jsonld",
    ):
        assert ctx.resolve(url)["@context"]["ngsi-ld"] == "https://uri.etsi.org/ngsi-ld/"

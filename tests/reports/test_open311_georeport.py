"""The ``georeport`` PyPI client (it uses ``requests``, so it needs a real HTTP server) against our
Open311 endpoint, served by uvicorn on a free local port. The client is read-only: it has no POST, so
requests are created through our own form POST first."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from fastapi import FastAPI

from tests.reports.conftest import A_POINT, World, make_open311_key

georeport = pytest.importorskip("georeport")
requests = pytest.importorskip("requests")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_url(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}/open311/v2"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_client_reads_our_endpoint(world: World, live_url: str, fmt: str) -> None:
    key = make_open311_key(world.session)
    form = {
        "api_key": key,
        "service_code": "lighting",
        "lat": str(A_POINT[0]),
        "long": str(A_POINT[1]),
        "description": "Đèn đường tắt cả tuần",
    }
    created = requests.post(
        f"{live_url}/requests.json",
        data=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    ref = created.json()[0]["service_request_id"]

    client = georeport.GeoReport(live_url, output_format=fmt)
    services: list[dict[str, Any]] = client.get_service_list()
    assert "lighting" in [s["service_code"] for s in services]
    definition = client.get_service_definition("roads")
    assert definition["service_code"] == "roads"
    requests_list = client.get_service_requests(service_code="lighting", status="open")
    if isinstance(requests_list, dict):  # xmltodict gives a dict for a single <request>
        requests_list = [requests_list]
    assert [r["service_request_id"] for r in requests_list] == [ref]
    one = client.get_service_request(ref)
    assert one["service_request_id"] == ref
    assert one["status"] == "open"
    with pytest.raises(requests.HTTPError):
        client.get_service_request("PA-1999-000000")

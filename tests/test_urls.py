"""Links follow the request: its port, a trusted proxy's forwarded scheme and host, or the configured
``public_url``; forwarded headers from anyone else change nothing (cityops.urls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cityops.app import create_app
from cityops.identity.apikeys import create_api_key
from cityops.settings import Settings, SettingsError, load_settings
from cityops.urls import ForwardedHeadersMiddleware, configured_base, parse_networks, trusted_networks
from tests.conftest import Backend

STA = "/sta/v1.1"
OTHER_PORT = "http://127.0.0.1:18351"
PROXY = ("127.0.0.1", 40000)  # trusted by default
STRANGER = ("203.0.113.9", 40000)
FORWARDED = {
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "ioc.tayninh.gov.vn",
    "X-Forwarded-For": "198.51.100.7",
}


def _app(backend: Backend, tmp_path: Path, **overrides: Any) -> FastAPI:
    settings = load_settings(env="test", data_dir=tmp_path / "data", database_url=backend.url, **overrides)
    return create_app(settings)


@pytest.fixture
def key(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as s:
        _, secret = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    return {"X-API-Key": secret}


def _station(client: TestClient, key: dict[str, str]) -> Any:
    """A Thing with a Datastream and three Observations, created through STA."""
    body = {
        "name": "Trạm Tân An",
        "description": "salinity",
        "Datastreams": [
            {
                "name": "salinity",
                "description": "salinity at 1 m",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                "unitOfMeasurement": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
                "Sensor": {
                    "name": "CTD",
                    "description": "probe",
                    "encodingType": "text/html",
                    "metadata": "x",
                },
                "ObservedProperty": {
                    "name": "Salinity",
                    "definition": "http://example.org/s",
                    "description": "s",
                },
                "Observations": [
                    {"result": i, "phenomenonTime": f"2026-03-01T0{i}:00:00Z"} for i in range(3)
                ],
            }
        ],
    }
    return client.post(f"{STA}/Things", json=body, headers=key)


def test_links_follow_the_port_the_client_used(backend: Backend, tmp_path: Path, key: dict[str, str]) -> None:
    with TestClient(_app(backend, tmp_path), base_url=OTHER_PORT) as client:
        created = _station(client, key)
        assert created.status_code == 201
        thing_id = created.json()["@iot.id"]
        assert created.headers["location"] == f"{OTHER_PORT}{STA}/Things({thing_id})"
        assert created.json()["@iot.selfLink"] == f"{OTHER_PORT}{STA}/Things({thing_id})"
        assert (
            created.json()["Datastreams@iot.navigationLink"]
            == f"{OTHER_PORT}{STA}/Things({thing_id})/Datastreams"
        )
        root = client.get(f"{STA}/").json()
        assert {v["url"] for v in root["value"]} >= {f"{OTHER_PORT}{STA}/Things"}
        page = client.get(f"{STA}/Observations", params={"$top": "2"}).json()
        next_link = page["@iot.nextLink"]
        assert next_link.startswith(f"{OTHER_PORT}{STA}/Observations?")
        # The link resolves: the client follows it as given and gets the last Observation.
        rest = client.get(next_link).json()
        assert len(rest["value"]) == 1
        assert "@iot.nextLink" not in rest


def test_a_trusted_proxy_sets_scheme_and_host(backend: Backend, tmp_path: Path, key: dict[str, str]) -> None:
    with TestClient(_app(backend, tmp_path), base_url="http://10.0.0.2:8000", client=PROXY) as client:
        created = client.post(
            f"{STA}/Things", json={"name": "T", "description": "d"}, headers={**key, **FORWARDED}
        )
        assert created.status_code == 201
        tid = created.json()["@iot.id"]
        assert created.headers["location"] == f"https://ioc.tayninh.gov.vn{STA}/Things({tid})"
        # Without the headers the same proxy's request gets its own address.
        assert (
            client.get(f"{STA}/Things({tid})").json()["@iot.selfLink"]
            == f"http://10.0.0.2:8000{STA}/Things({tid})"
        )


def test_forwarded_headers_from_elsewhere_are_ignored(
    backend: Backend, tmp_path: Path, key: dict[str, str]
) -> None:
    with TestClient(_app(backend, tmp_path), base_url=OTHER_PORT, client=STRANGER) as client:
        created = client.post(
            f"{STA}/Things", json={"name": "T", "description": "d"}, headers={**key, **FORWARDED}
        )
        assert created.status_code == 201
        assert created.headers["location"] == f"{OTHER_PORT}{STA}/Things({created.json()['@iot.id']})"


def test_configured_public_url_wins(backend: Backend, tmp_path: Path, key: dict[str, str]) -> None:
    app = _app(backend, tmp_path, public_url="https://iocc.tayninh.gov.vn/")
    with TestClient(app, base_url=OTHER_PORT, client=PROXY) as client:
        created = client.post(
            f"{STA}/Things", json={"name": "T", "description": "d"}, headers={**key, **FORWARDED}
        )
        assert (
            created.headers["location"]
            == f"https://iocc.tayninh.gov.vn{STA}/Things({created.json()['@iot.id']})"
        )


# --- the middleware alone (no database) -------------------------------------------------------------


def _echo(request: Request) -> JSONResponse:
    client = request.client
    return JSONResponse({"base": str(request.base_url), "client": client.host if client else None})


@pytest.fixture
def echo() -> FastAPI:
    app = FastAPI(routes=[Route("/", _echo)])
    app.add_middleware(ForwardedHeadersMiddleware, trusted=parse_networks("127.0.0.1, 10.0.0.0/8"))
    return app


def test_client_is_the_nearest_untrusted_hop(echo: FastAPI) -> None:
    with TestClient(echo, client=PROXY) as c:
        body = c.get("/", headers={"X-Forwarded-For": "198.51.100.7, 10.1.2.3"}).json()
        assert body == {"base": "http://testserver/", "client": "198.51.100.7"}
        # Only the proxies: the first address is the client.
        assert c.get("/", headers={"X-Forwarded-For": "10.9.9.9, 10.1.2.3"}).json()["client"] == "10.9.9.9"
        # An unknown scheme is not believed.
        assert c.get("/", headers={"X-Forwarded-Proto": "gopher"}).json()["base"] == "http://testserver/"
        # The first of several forwarded hosts and schemes (the one the first proxy saw).
        many = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "a.vn:8443, b.vn"}
        assert c.get("/", headers=many).json()["base"] == "https://a.vn:8443/"
    with TestClient(echo, client=STRANGER) as c:
        assert c.get("/", headers=FORWARDED).json() == {"base": "http://testserver/", "client": STRANGER[0]}


def test_links_outside_a_request(tmp_path: Path) -> None:
    def base(**kw: Any) -> str:
        settings: Settings = load_settings(env="test", data_dir=tmp_path, **kw)
        return configured_base(settings)

    assert base(port=18351) == "http://127.0.0.1:18351"
    assert base(host="0.0.0.0", port=8080) == "http://127.0.0.1:8080"  # noqa: S104 - a bind address
    assert base(host="::1", port=8080) == "http://[::1]:8080"
    assert base(public_url="https://ioc.example.vn/") == "https://ioc.example.vn"


def test_a_bad_proxy_entry_stops_start_up(tmp_path: Path) -> None:
    settings = load_settings(env="test", data_dir=tmp_path, trusted_proxies="127.0.0.1, nginx")
    with pytest.raises(SettingsError, match="'nginx' is not an IP address"):
        trusted_networks(settings)
    assert trusted_networks(load_settings(env="test", data_dir=tmp_path, trusted_proxies="")) == []

"""RFC 9116 security.txt: published with the operator's contact, absent (404) without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.settings import load_settings


def _client(tmp_path: Path, **extra: str) -> TestClient:
    return TestClient(create_app(load_settings(env="test", data_dir=tmp_path, **extra)))


def test_security_txt_lists_the_contacts_and_a_future_expiry(tmp_path: Path) -> None:
    client = _client(
        tmp_path,
        security_contact="mailto:attt@tayninh.gov.vn, https://soc.example.vn/report",
        security_policy_url="https://soc.example.vn/policy",
    )
    res = client.get("/.well-known/security.txt")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    fields = [line.split(": ", 1) for line in res.text.strip().splitlines()]
    assert [v for k, v in fields if k == "Contact"] == [
        "mailto:attt@tayninh.gov.vn",
        "https://soc.example.vn/report",
    ]
    assert dict(fields)["Policy"] == "https://soc.example.vn/policy"
    expires = datetime.strptime(dict(fields)["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(days=170) < expires - datetime.now(UTC) < timedelta(days=366)  # RFC: under a year


def test_no_contact_means_no_security_txt(tmp_path: Path) -> None:
    res = _client(tmp_path).get("/.well-known/security.txt")
    assert res.status_code == 404
    assert res.json()["error"]["code"] == "not_found"

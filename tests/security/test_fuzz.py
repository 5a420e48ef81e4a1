"""API fuzzing: schemathesis over every operation of the OpenAPI schema, against the ASGI app.

Signed in as each role (and anonymous), every operation is called with generated inputs and every answer
must pass the four checks: no 5xx, a status code the schema declares, a declared content type, and a
body that matches the declared schema. Bounded so it fits ``make test``: a few examples per operation
and role, derandomized (same inputs every run), no shrinking, SQLite. ``CITYOPS_FUZZ_EXAMPLES`` raises
the number of examples (``make fuzz-long``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from cityops.app import create_app
from cityops.db import make_engine
from cityops.identity import tokens
from cityops.identity.models import Role, SessionKind, User
from cityops.identity.users import create_user
from cityops.models import metadata
from cityops.settings import load_settings

EXAMPLES = int(os.environ.get("CITYOPS_FUZZ_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Long-lived streams and the page routes are not part of the JSON API surface.
SKIP = {("GET", "/api/v1/web/live")}
ROLES = [None, *Role]  # None: anonymous


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[FastAPI, Callable[[Role], str]]:
    """The app on its own SQLite database, and a function minting a fresh bearer token for a user of a
    role (an operation may sign the user out, change its password or disable it: the next one starts
    afresh)."""
    data = tmp_path_factory.mktemp("fuzz")
    settings = load_settings(
        env="test",
        data_dir=data,
        database_url=f"sqlite:///{Path(data) / 'fuzz.sqlite3'}",
        security_submit_per_ip_per_hour=1_000_000,
        security_upload_per_ip_per_hour=1_000_000,
        security_otp_per_ip_per_hour=1_000_000,
        load_demo=False,
    )
    engine = make_engine(settings.effective_database_url)
    metadata.create_all(engine)
    users: dict[Role, int] = {}
    with Session(engine) as s:
        for role in Role:
            user = create_user(
                s,
                role=role,
                username=f"fuzz-{role.value}",
                full_name="Fuzz",
                password=None,
                audit_label="fuzz",
            )
            s.flush()
            users[role] = user.id
        s.commit()

    def mint(role: Role) -> str:
        with Session(engine) as s:
            user = s.get(User, users[role])
            assert user is not None
            user.is_active = True
            user.role = role
            _, token = tokens.create_session(s, user, ttl_minutes=600, kind=SessionKind.BEARER)
            s.commit()
        return token

    return create_app(settings), mint


@pytest.mark.parametrize("role", ROLES, ids=lambda r: "anonymous" if r is None else r.value)
def test_every_operation_keeps_its_schema(
    fuzz_app: tuple[FastAPI, Callable[[Role], str]], role: Role | None
) -> None:
    app, mint = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    headers: dict[str, str] = {}
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails here, loudly
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        fuzzed += 1
        if role is not None:
            headers["Authorization"] = f"Bearer {mint(role)}"

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # collected: one run shows every failing operation
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    print(f"fuzzed {fuzzed} operations as {role or 'anonymous'}, {EXAMPLES} examples each")
    assert fuzzed > 50
    assert not failures, f"{len(failures)} failing operations\n\n" + "\n\n".join(
        f"{k}\n{v}" for k, v in failures.items()
    )


# --- strict input models: wrong types are refused, never coerced; unknown fields are refused -----------

STRICT_CASES = [
    # (method, path, body, field that must be named in the 422)
    ("POST", "/api/v1/reports", {"category": "lighting", "lat": False, "lon": 106.0}, "lat"),
    ("POST", "/api/v1/reports", {"category": "lighting", "consent": 1}, "consent"),
    ("POST", "/api/v1/reports", {"category": "lighting", "media_ids": ["1"]}, "media_ids"),
    ("POST", "/api/v1/reports", {"category": "lighting", "is_admin": True}, "is_admin"),
    ("POST", "/api/v1/reports", {"category": 7}, "category"),
    ("POST", "/api/v1/auth/login", {"username": "a", "password": "b" * 10, "session": "true"}, "session"),
    ("POST", "/api/v1/auth/login", {"username": "a", "password": "b" * 10, "role": "admin"}, "role"),
    ("POST", "/api/v1/reports/auth/otp", {"phone": 912345678}, "phone"),
    (
        "POST",
        "/api/v1/alert-rules",
        {"name_vi": "r", "kind": "threshold", "parameters": {}, "enabled": 0},
        "enabled",
    ),
    ("POST", "/api/v1/users", {"role": "citizen", "username": "u", "agency_ids": [False]}, "agency_ids"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), STRICT_CASES)
def test_write_models_are_strict(
    client: TestClient,
    admin: User,
    auth: Callable[[User], dict[str, str]],
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    res = client.request(method, path, json=body, headers=auth(admin))
    assert res.status_code == 422, res.text
    details = res.json()["error"]["details"]
    assert any(field in d["loc"] for d in details), details

"""Citizen sign-in by phone + one-time code, then the citizen's history."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cityops.identity.models import Role, User
from cityops.notify import LogChannel
from tests.reports.conftest import A_POINT, World


@pytest.fixture(autouse=True)
def _clear_log() -> Iterator[None]:
    LogChannel.clear()
    yield
    LogChannel.clear()


def last_code() -> str:
    match = re.search(r"\b(\d{6})\b", LogChannel.recent("otp")[-1].body_vi)
    assert match is not None
    return match.group(1)


def test_phone_sign_in_creates_a_citizen_who_sees_their_history(world: World, client: TestClient) -> None:
    assert client.post("/api/v1/reports/auth/otp", json={"phone": "0912 345 678"}).status_code == 202
    code = last_code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert (
        client.post(
            "/api/v1/reports/auth/otp/verify", json={"phone": "0912345678", "code": wrong}
        ).status_code
        == 401
    )
    r = client.post("/api/v1/reports/auth/otp/verify", json={"phone": "+84912345678", "code": code})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    user = world.session.scalar(select(User).where(User.phone == "+84912345678"))
    assert user is not None
    assert user.role is Role.CITIZEN
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post(
        "/api/v1/reports",
        json={"category": "lighting", "lat": A_POINT[0], "lon": A_POINT[1]},
        headers=headers,
    )
    assert made.status_code == 201
    mine = client.get("/api/v1/reports/mine", headers=headers).json()["items"]
    assert [m["ref"] for m in mine] == [made.json()["ref"]]
    # the code works once
    again = client.post("/api/v1/reports/auth/otp/verify", json={"phone": "+84912345678", "code": code})
    assert again.status_code == 401


def test_staff_phones_cannot_sign_in_by_sms(world: World, client: TestClient) -> None:
    officer = world.session.get(User, world.users["officer_a"].id)
    assert officer is not None
    officer.phone = "+84987654321"
    world.session.commit()
    client.post("/api/v1/reports/auth/otp", json={"phone": "0987654321"})
    r = client.post("/api/v1/reports/auth/otp/verify", json={"phone": "0987654321", "code": last_code()})
    assert r.status_code == 403
    assert client.post("/api/v1/reports/auth/otp", json={"phone": "12345678"}).status_code == 422

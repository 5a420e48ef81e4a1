"""#21: tracking tokens are random and rotatable (finding 5), public search sees only the masked text
(finding 4), and a typed phone or e-mail address follows a case only once confirmed (finding 6)."""

from __future__ import annotations

import hashlib
import hmac
import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from cityops.notify import LogChannel
from cityops.reports.handling import ActionRequest, perform
from cityops.reports.models import Case, CaseSubscription
from cityops.reports.workflow import CaseAction
from tests.reports.conftest import World
from tests.reports.test_api import bearer, report_body

PHONE_TEXT = "Gọi tôi 0912 345 678 khi sửa xong"


def _submit(client: TestClient, **kw: object) -> dict[str, str]:
    r = client.post("/api/v1/reports", json=report_body(category="lighting", answers={}, **kw))
    assert r.status_code == 201, r.text
    return r.json()


def test_the_token_is_not_derived_from_the_secret_and_the_case(world: World, client: TestClient) -> None:
    body = _submit(client)
    case = world.session.scalar(select(Case).where(Case.ref == body["ref"]))
    assert case is not None
    # the former derivation (HMAC of the case id with the secret key) no longer gives it
    mac = hmac.new(world.settings.secret_key.encode(), f"reports-token:{case.id}".encode(), hashlib.sha256)
    import base64

    derived = base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")[:32]
    assert body["token"] != derived
    assert client.get(f"/api/v1/reports/track/{derived}").status_code == 404
    assert len(body["token"]) >= 32
    assert case.token_hash == hashlib.sha256(body["token"].encode()).hexdigest()  # stored hashed


def test_a_token_can_be_rotated_and_the_old_one_dies(world: World, client: TestClient) -> None:
    old = _submit(client)["token"]
    r = client.post(f"/api/v1/reports/track/{old}/rotate")
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert new != old
    assert client.get(f"/api/v1/reports/track/{old}").status_code == 404
    assert client.get(f"/api/v1/reports/track/{new}").status_code == 200


def test_a_replayed_submission_gets_a_working_fresh_token(world: World, client: TestClient) -> None:
    headers = {"Idempotency-Key": "replay-key-0123456789"}
    payload = report_body(category="lighting", answers={})
    first = client.post("/api/v1/reports", json=payload, headers=headers).json()
    again = client.post("/api/v1/reports", json=payload, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["ref"] == first["ref"]
    assert client.get(f"/api/v1/reports/track/{again.json()['token']}").status_code == 200


def test_public_search_cannot_find_a_masked_phone(world: World, client: TestClient) -> None:
    ref = _submit(client, description=PHONE_TEXT)["ref"]
    public = client.get("/api/v1/reports/public").json()["items"]
    assert "[***]" in public[0]["description"]
    for probe in ("0912", "0912 345", "345 678", "678"):
        assert client.get("/api/v1/reports/public", params={"q": probe}).json()["total"] == 0, probe
    assert client.get("/api/v1/reports/public", params={"q": "goi toi"}).json()["items"][0]["ref"] == ref
    # staff handling it still search the text as written
    found = client.get(
        "/api/v1/reports/inbox", params={"q": "0912"}, headers=bearer(world, "officer_a")
    ).json()
    assert [c["ref"] for c in found["items"]] == [ref]


def _code_sent_to(address: str) -> str:
    [message] = [m for m in LogChannel.recent() if m.recipient.address() == address][-1:]
    found = re.search(r": (\d{6}) ", message.body)  # "…phản ánh PA-2026-000001: 123456 (hiệu lực…"
    assert found is not None
    return found.group(1)


def test_a_typed_number_follows_only_once_confirmed(world: World, client: TestClient) -> None:
    LogChannel.clear()
    ref = _submit(client)["ref"]
    r = client.post(
        f"/api/v1/reports/cases/{ref}/subscribe", json={"channel": "sms", "address": "0912 000 111"}
    )
    assert r.status_code == 202, r.text
    assert r.json() == {"ref": ref, "subscribed": False, "verification": "sent"}
    code = _code_sent_to("+84912000111")
    case = world.session.scalar(select(Case).where(Case.ref == ref))
    assert case is not None

    def status_sms() -> int:
        return len([m for m in LogChannel.recent("case_status") if m.recipient.address() == "+84912000111"])

    perform(
        world.session, world.settings, world.actor("officer_a"), case, ActionRequest(CaseAction.ACKNOWLEDGE)
    )
    world.session.commit()
    assert status_sms() == 0  # not confirmed: nothing sent
    wrong = client.post(
        f"/api/v1/reports/cases/{ref}/subscribe/confirm",
        json={"channel": "sms", "address": "0912000111", "code": "000000" if code != "000000" else "111111"},
    )
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "invalid_code"
    ok = client.post(
        f"/api/v1/reports/cases/{ref}/subscribe/confirm",
        json={"channel": "sms", "address": "+84 912 000 111", "code": code},
    )
    assert ok.status_code == 201, ok.text
    world.session.expire_all()
    case = world.session.scalar(select(Case).where(Case.ref == ref))
    assert case is not None
    perform(
        world.session,
        world.settings,
        world.actor("supervisor_a"),
        case,
        ActionRequest(CaseAction.ASSIGN, assignee_id=world.users["officer_a"].id),
    )
    world.session.commit()
    assert status_sms() == 1


def test_codes_are_limited_per_address_and_per_client(world: World, client: TestClient) -> None:
    refs = [_submit(client)["ref"] for _ in range(2)]
    limit = world.settings.reports_codes_per_address_per_hour
    for i in range(limit):
        r = client.post(
            f"/api/v1/reports/cases/{refs[i % 2]}/subscribe", json={"channel": "sms", "address": "0912000222"}
        )
        assert r.status_code == 202, r.text
    r = client.post(
        f"/api/v1/reports/cases/{refs[0]}/subscribe", json={"channel": "sms", "address": "0912000222"}
    )
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "3600"
    # one client spraying numbers: stopped at the per-client limit
    per_client = world.settings.reports_codes_per_client_per_hour
    answers = [
        client.post(
            f"/api/v1/reports/cases/{refs[1]}/subscribe", json={"channel": "sms", "address": f"09130{n:05d}"}
        ).status_code
        for n in range(per_client)
    ]
    assert answers.count(429) >= limit  # the codes above already counted for this client
    pending = world.session.scalars(
        select(CaseSubscription).where(CaseSubscription.verified_at.is_(None))
    ).all()
    assert len(pending) <= per_client


def test_a_bad_address_is_refused(world: World, client: TestClient) -> None:
    ref = _submit(client)["ref"]
    for channel, address in (("sms", "12"), ("email", "not-an-address"), ("push", "0912000333")):
        r = client.post(
            f"/api/v1/reports/cases/{ref}/subscribe", json={"channel": channel, "address": address}
        )
        assert r.status_code == 422, (channel, r.text)
    assert (
        world.session.scalars(select(CaseSubscription).where(CaseSubscription.address.is_not(None))).all()
        == []
    )

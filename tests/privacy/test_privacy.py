"""Personal data: consent stored with each report, the citizen's full export, account deletion (reports stay,
anonymous), the retention sweep, and a sweep of every public output (REST, Open311, SensorThings, IOC,
alerts, the live SSE stream) for personal fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.alerts.models import AlertSubscription
from cityops.clock import utcnow
from cityops.identity.models import User
from cityops.notify.models import Delivery, OtpCode
from cityops.plugins import plugin_manager
from cityops.privacy.service import retention_sweep
from cityops.reports.models import Case, CaseReporter
from cityops.settings import Settings
from tests.security.authz_world import (
    NOTE_TEXT,
    SECRET_ADDRESS,
    SECRET_EMAIL,
    SECRET_NAME,
    SECRET_PHONE,
    Ctx,
    bearer,
    build_ctx,
)

SECRETS = (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, NOTE_TEXT)
PERSONAL_KEYS = {
    "reporter_id",
    "reporters",
    "phone",
    "email",
    "first_name",
    "last_name",
    "device_id",
    "account_id",
}


def _citizen(ctx: Ctx) -> dict[str, str]:
    return bearer(ctx.world.session, ctx.citizen_id)


def test_consent_and_purpose_are_stored_with_the_report(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> None:
    ctx = build_ctx(session, settings, client, make_api_key)
    case = session.scalar(select(Case).where(Case.ref == ctx.ref))
    assert case is not None
    assert case.consent is True
    assert case.consent_purpose  # the default purpose when the form sent none
    exported = client.get("/api/v1/privacy/export", headers=_citizen(ctx)).json()
    assert exported["reports"]["reports"][0]["consent"] is True
    assert exported["reports"]["reports"][0]["consent_purpose"] == case.consent_purpose


def test_export_holds_everything_of_the_citizen_and_nothing_of_others(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> None:
    ctx = build_ctx(session, settings, client, make_api_key)
    assert client.get("/api/v1/privacy/export").status_code == 401
    mine = client.get("/api/v1/privacy/export", headers=_citizen(ctx))
    assert mine.status_code == 200
    body = mine.json()
    assert body["account"]["id"] == ctx.citizen_id
    assert body["reports"]["reports"][0]["ref"] == ctx.ref
    assert body["reports"]["reports"][0]["phone"] == SECRET_PHONE
    assert [s["area_id"] for s in body["alert_subscriptions"]] == [ctx.area_id]
    other = client.get(
        "/api/v1/privacy/export", headers=bearer(session, ctx.world.users["citizen2"].id)
    ).json()
    text = json.dumps(other, ensure_ascii=False)
    assert other["reports"]["reports"] == []
    assert other["alert_subscriptions"] == []
    assert not [s for s in SECRETS if s in text]


def test_deleting_the_account_keeps_the_report_anonymous(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> None:
    ctx = build_ctx(session, settings, client, make_api_key)
    assert client.delete("/api/v1/privacy/account").status_code == 401
    officer = bearer(session, ctx.world.users["officer_a"].id)
    assert client.delete("/api/v1/privacy/account", headers=officer).status_code == 403
    citizen = _citizen(ctx)
    gone = client.delete("/api/v1/privacy/account", headers=citizen)
    assert gone.status_code == 200, gone.text
    assert gone.json() == {
        "erased_reports": 1,
        "alert_subscriptions": 1,
        "push_subscriptions": 0,
        "account": 1,
    }
    assert client.get("/api/v1/auth/me", headers=citizen).status_code == 401  # signed out everywhere
    session.expire_all()
    user = session.get(User, ctx.citizen_id)
    assert user is not None
    assert not user.is_active
    assert (user.username, user.phone, user.email, user.full_name, user.password_hash) == (
        None,
        None,
        None,
        "",
        None,
    )
    assert (
        session.scalar(select(AlertSubscription).where(AlertSubscription.user_id == ctx.citizen_id)) is None
    )
    assert client.get(f"/api/v1/reports/public/{ctx.ref}").status_code == 200  # the report stays
    detail = client.get(f"/api/v1/reports/cases/{ctx.ref}", headers=officer).json()
    text = json.dumps(detail, ensure_ascii=False)
    assert SECRET_PHONE not in text
    assert SECRET_NAME not in text
    assert SECRET_EMAIL not in text
    assert all(r["user_id"] is None for r in detail["reporters"])


def test_retention_sweep_clears_only_old_finished_cases(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str]
) -> None:
    ctx = build_ctx(session, settings, client, make_api_key)
    recent = client.post(
        "/api/v1/reports",
        json={
            "category": "lighting",
            "lat": 10.005,
            "lon": 106.005,
            "address": "5 ngõ gần đây",
            "reporter": {"phone": "0911000111"},
            "consent": True,
        },
    ).json()["ref"]
    now = utcnow()
    long_ago = now - timedelta(days=settings.privacy_retention_days + 1)
    session.add_all(
        [
            Delivery(
                channel="sms",
                category="case",
                address="0911000222",
                message={},
                status="sent",
                created_at=long_ago,
            ),
            Delivery(
                channel="sms",
                category="case",
                address="0911000333",
                message={},
                status="retrying",
                created_at=long_ago,
            ),
            Delivery(
                channel="sms",
                category="case",
                address="0911000444",
                message={},
                status="sent",
                created_at=now,
            ),
            OtpCode(
                phone="0911000222",
                salt="s",
                code_hash="h",
                expires_at=long_ago,
                max_attempts=5,
                created_at=long_ago,
            ),
        ]
    )
    session.commit()
    old = session.scalar(select(Case).where(Case.ref == ctx.ref))
    fresh = session.scalar(select(Case).where(Case.ref == recent))
    assert old is not None
    assert fresh is not None
    old.state, old.closed_at = "closed", now - timedelta(days=settings.privacy_retention_days + 1)
    fresh.state, fresh.closed_at = "closed", now - timedelta(days=settings.privacy_retention_days - 1)
    session.commit()
    stats = retention_sweep(session, settings, now=now)
    session.commit()
    assert (stats.reporters, stats.addresses, stats.deliveries, stats.otp_codes) == (1, 1, 1, 1)
    left = set(session.scalars(select(Delivery.address)))
    assert "0911000222" not in left
    assert {"0911000333", "0911000444"} <= left  # one still being retried, one recent
    session.expire_all()
    old_reps = session.scalars(select(CaseReporter).where(CaseReporter.case_id == old.id)).all()
    assert all((r.user_id, r.name, r.phone, r.email) == (None, None, None, None) for r in old_reps)
    assert session.get(Case, old.id).address is None  # type: ignore[union-attr]
    fresh_rep = session.scalar(select(CaseReporter).where(CaseReporter.case_id == fresh.id))
    assert fresh_rep is not None
    assert fresh_rep.phone == "0911000111"
    assert session.get(Case, fresh.id).address == "5 ngõ gần đây"  # type: ignore[union-attr]
    again = retention_sweep(session, settings, now=now)
    assert (again.reporters, again.addresses) == (0, 0)  # idempotent


def test_privacy_sweep_cli(settings: Settings, session: Session, monkeypatch: Any) -> None:
    from cityops.cli import cli

    plugin_manager().hook.register_cli(cli=cli)
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    done = CliRunner().invoke(cli, ["privacy", "sweep", "--data-dir", str(settings.data_dir)])
    assert done.exit_code == 0, done.output
    assert "Retention sweep: 0 deliveries, 0 otp codes, 0 reporters, 0 addresses cleared" in done.output


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_personal_field_in_any_public_or_open_data_output(
    session: Session, settings: Settings, client: TestClient, make_api_key: Callable[..., str], app: FastAPI
) -> None:
    live = app.state.live
    live.stream_seconds = 0.3
    first_event = live._backlog[0][0] if live._backlog else None
    ctx = build_ctx(session, settings, client, make_api_key)
    officer = bearer(session, ctx.world.users["officer_a"].id)
    client.post(f"/api/v1/reports/cases/{ctx.ref}/actions", headers=officer, json={"action": "acknowledge"})
    client.post(
        f"/api/v1/reports/cases/{ctx.ref}/actions",
        headers=officer,
        json={"action": "resolve", "comment": "Đã thay bóng đèn"},
    )
    sta = "/sta/v1.1"
    urls = [
        f"{sta}/Things",
        f"{sta}/Things({ctx.thing_id})?$expand=Datastreams($expand=Observations),Locations",
        f"{sta}/Datastreams?$expand=Thing,Sensor,ObservedProperty",
        f"{sta}/Observations?$expand=FeatureOfInterest",
        f"{sta}/Locations",
        f"{sta}/FeaturesOfInterest",
        f"{sta}/HistoricalLocations",
        f"{sta}/Sensors",
        f"{sta}/ObservedProperties",
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
        f"/open311/v2/requests/{ctx.ref}.json",
        "/api/v1/reports/public",
        "/api/v1/reports/public.geojson",
        f"/api/v1/reports/public/{ctx.ref}",
        "/api/v1/reports/scorecards?by=area&format=csv",
        "/api/v1/ioc/summary",
        "/api/v1/ioc/stations",
        "/api/v1/alerts",
        f"/api/v1/alerts/{ctx.alert_id}",
        "/api/v1/sensing/latest",
        "/api/v1/environment/stations",
    ]
    integrator = {"X-API-Key": ctx.keys["integrator_key"]}
    seen = 0
    for url in urls:
        for headers in ({}, integrator):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
            assert not _leaks(resp.text), (url, _leaks(resp.text))
            if "json" in resp.headers.get("content-type", ""):
                assert not (_keys(resp.json()) & PERSONAL_KEYS), (url, _keys(resp.json()) & PERSONAL_KEYS)
            seen += 1
    assert seen == 2 * len(urls)
    # the live stream: its backlog replays every case and alert event published so far
    assert live._backlog, "no live events were published"
    start = first_event or live._backlog[0][0]
    stream = client.get("/api/v1/live", headers={"Last-Event-ID": start})
    assert stream.status_code == 200
    events = [line[6:] for line in stream.text.splitlines() if line.startswith("data: ")]
    assert events, "the live stream replayed nothing"
    assert not _leaks(stream.text)
    assert SECRET_ADDRESS not in stream.text
    for data in events:
        payload = json.loads(data)["payload"]
        assert not (_keys(payload) & (PERSONAL_KEYS | {"user_id", "actor_id", "address"})), payload

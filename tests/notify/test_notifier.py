"""Notifications: channels, recorded deliveries sent after commit, retries — on both backends."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.notify import (
    DeliveryResult,
    EmailChannel,
    LogChannel,
    Message,
    Notifier,
    Recipient,
    deliver_due,
    notify,
    render,
    save_push_subscription,
)
from cityops.notify.models import Delivery
from cityops.notify.notifier import expand, recipient_from
from cityops.plugins import hookimpl, plugin_manager
from cityops.settings import Settings, load_settings

STRONG_SECRET = "k7Qp-2vXr9LmZt4Wb8YhNc3Fd6Sg1Jx5Ue0Ra"  # passes the production strength check

CTX = {"ref": "PA-2026-000123", "state": "in_progress", "note": "Đội vệ sinh đang xử lý."}


@pytest.fixture(autouse=True)
def _clear_log() -> Iterator[None]:
    LogChannel.clear()
    yield
    LogChannel.clear()


class Gateway:
    """A real HTTP server standing in for the SMS provider; answers with the queued status codes."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.received.append(json.loads(body))
                gateway.headers.append(dict(self.headers))
                status = gateway.statuses.pop(0) if gateway.statuses else 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"id": "msg-1"}')

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    yield gw
    gw.close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def rows(session: Session) -> list[Delivery]:
    session.expire_all()
    return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_dev_messages_go_to_the_log_after_commit(settings: Settings, session: Session) -> None:
    deliveries = notify(session, settings, {"phone": "+84912345678"}, "case_status", CTX)
    assert [d.channel for d in deliveries] == ["log"]
    assert LogChannel.recent() == []  # nothing is sent before the commit
    session.commit()
    [sent] = LogChannel.recent("case_status")
    assert (
        sent.body_vi
        == "Phản ánh PA-2026-000123 của bạn đã chuyển sang trạng thái: đang xử lý. Đội vệ sinh đang xử lý."
    )
    assert sent.body_en == "Your report PA-2026-000123 is now: in progress. Đội vệ sinh đang xử lý."
    assert sent.recipient.phone == "+84912345678"
    [row] = rows(session)
    assert (row.status, row.attempts, row.address) == ("sent", 1, "+84912345678")


def test_rolled_back_change_notifies_nobody(settings: Settings, session: Session) -> None:
    notify(session, settings, {"email": "dan@example.vn"}, "case_status", CTX)
    session.rollback()
    session.commit()
    assert LogChannel.recent() == []
    assert rows(session) == []


def test_sms_gateway_delivers_and_failures_are_retried(
    settings: Settings, session: Session, gateway: Gateway
) -> None:
    configured = settings.model_copy(update={"sms_gateway_url": gateway.url, "sms_gateway_token": "tok-123"})
    gateway.statuses = [503]
    deliveries = notify(
        session, configured, {"channel": "sms", "address": "+84912345678"}, "case_status", CTX
    )
    assert sorted(d.channel for d in deliveries) == ["log", "sms"]
    session.commit()
    sms = next(r for r in rows(session) if r.channel == "sms")
    assert sms.status == "retrying"
    assert sms.attempts == 1
    assert "503" in (sms.last_error or "")
    assert sms.next_attempt_at is not None
    assert sms.next_attempt_at >= utcnow() + timedelta(seconds=configured.notify_retry_seconds - 5)
    # Not due yet: nothing happens.
    assert deliver_due(session, configured) == 0
    # Due: the gateway now accepts.
    assert deliver_due(session, configured, now=utcnow() + timedelta(hours=1)) == 1
    sms = next(r for r in rows(session) if r.channel == "sms")
    assert (sms.status, sms.attempts, sms.last_error) == ("sent", 2, None)
    assert len(gateway.received) == 2
    assert gateway.received[-1]["to"] == "+84912345678"
    assert gateway.received[-1]["text"].startswith("Phản ánh PA-2026-000123")
    assert gateway.headers[-1]["Authorization"] == "Bearer tok-123"


def test_permanent_sms_failure_is_not_retried(settings: Settings, session: Session, gateway: Gateway) -> None:
    configured = settings.model_copy(update={"sms_gateway_url": gateway.url})
    gateway.statuses = [400]
    notify(session, configured, "0912345678", "case_status", CTX)
    session.commit()
    sms = next(r for r in rows(session) if r.channel == "sms")
    assert sms.status == "failed"
    assert "400" in (sms.last_error or "")
    assert deliver_due(session, configured, now=utcnow() + timedelta(days=1)) == 0


def test_unreachable_channels_give_up_after_max_attempts(settings: Settings, session: Session) -> None:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": closed_port(), "notify_max_attempts": 3}
    )
    notify(session, configured, {"email": "dan@example.vn"}, "case_escalated", {"ref": "PA-1", "due": "x"})
    session.commit()
    later = utcnow()
    for _ in range(3):
        later += timedelta(days=1)
        deliver_due(session, configured, now=later)
    email = next(r for r in rows(session) if r.channel == "email")
    assert email.status == "failed"
    assert email.attempts == 3
    assert "SMTP error" in (email.last_error or "")


def test_production_without_channels_records_the_failure(settings: Settings, session: Session) -> None:
    production = load_settings(
        env="production",
        secret_key=STRONG_SECRET,
        data_dir=settings.data_dir,
        database_url=settings.database_url,
    )
    deliveries = notify(session, production, {"phone": "+84912345678"}, "case_status", CTX)
    session.commit()
    assert [(d.channel, d.status) for d in deliveries] == [("none", "failed")]
    assert deliveries[0].last_error == "no enabled channel for its addresses"
    assert LogChannel.recent() == []
    [row] = rows(session)
    assert row.status == "failed"


class FlakyChannel:
    """A plugin channel that fails once, then raises, then works."""

    name = "flaky"
    enabled = True
    calls: ClassVar[list[str]] = []

    def accepts(self, message: Message) -> bool:
        return message.recipient.email is not None

    def send(self, message: Message) -> DeliveryResult:
        FlakyChannel.calls.append(message.subject)
        if len(FlakyChannel.calls) == 1:
            return DeliveryResult(False, "busy")
        if len(FlakyChannel.calls) == 2:
            raise RuntimeError("plugin bug")
        return DeliveryResult(True)


class FlakyPlugin:
    @hookimpl
    def alert_channels(self, settings: Settings) -> list[Any]:
        return [FlakyChannel(), "not a channel"]


def test_channels_come_from_the_plugin_hook(settings: Settings, session: Session) -> None:
    pm = plugin_manager()
    pm.register(FlakyPlugin(), name="test-flaky")
    FlakyChannel.calls.clear()
    try:
        notifier = Notifier.from_settings(settings)
        assert {"log", "flaky"} <= set(notifier.channels)
        assert "sms" not in notifier.channels  # not configured → disabled
        notify(session, settings, {"email": "dan@example.vn"}, "case_status", CTX, locale="en")
        session.commit()
        row = next(r for r in rows(session) if r.channel == "flaky")
        assert (row.status, row.last_error) == ("retrying", "busy")
        deliver_due(session, settings, now=utcnow() + timedelta(days=1))
        row = next(r for r in rows(session) if r.channel == "flaky")
        assert row.status == "retrying"
        assert "plugin bug" in (row.last_error or "")
        deliver_due(session, settings, now=utcnow() + timedelta(days=2))
        row = next(r for r in rows(session) if r.channel == "flaky")
        assert (row.status, row.attempts) == ("sent", 3)
        assert FlakyChannel.calls == ["Report PA-2026-000123: update"] * 3
    finally:
        pm.unregister(name="test-flaky")


def test_push_subscriptions_and_user_expansion(settings: Settings, session: Session) -> None:
    sub = save_push_subscription(
        session, {"endpoint": "https://push.example/abc", "keys": {"p256dh": "BPk", "auth": "au"}}, user_id=7
    )
    again = save_push_subscription(
        session,
        {"endpoint": "https://push.example/abc", "keys": {"p256dh": "BPk2", "auth": "au2"}},
        user_id=7,
    )
    assert again.id == sub.id
    assert again.p256dh == "BPk2"
    [target] = expand(session, Recipient(user_id=7))
    assert target.push == {
        "id": sub.id,
        "endpoint": "https://push.example/abc",
        "keys": {"p256dh": "BPk2", "auth": "au2"},
    }
    assert (
        expand(session, recipient_from({"channel": "webpush", "address": str(sub.id)}))[0].push == target.push
    )
    assert expand(session, Recipient(user_id=8)) == []
    for bad in (
        {"endpoint": "http://push.example/x", "keys": {"p256dh": "a", "auth": "b"}},
        {"endpoint": "https://push.example/x", "keys": {"p256dh": "a"}},
        {"endpoint": 5},
    ):
        with pytest.raises(ApiError) as info:
            save_push_subscription(session, bad)
        assert info.value.status == 422


def test_recipient_forms_and_templates() -> None:
    assert recipient_from({"user_id": 3}) == Recipient(user_id=3)
    assert recipient_from("a@b.vn") == Recipient(email="a@b.vn")
    assert recipient_from({"channel": "email", "address": "a@b.vn"}) == Recipient(email="a@b.vn")
    assert recipient_from(5) == Recipient(user_id=5)
    for bad in ({"channel": "fax", "address": "1"}, {"name": "x"}):
        with pytest.raises(ApiError):
            recipient_from(bad)
    unknown = render("mystery", {"a": 1}, Recipient(user_id=1))
    assert (unknown.subject, unknown.body) == ("mystery", "a: 1")
    missing = render("case_status", {"ref": "PA-9"}, Recipient(user_id=1), locale="en")
    assert missing.body == "Your report PA-9 is now: ."


def test_email_carries_both_languages(settings: Settings) -> None:
    message = render("case_status", CTX, Recipient(email="dan@example.vn"), locale="vi")
    email = EmailChannel(settings.model_copy(update={"smtp_host": "mail.example"})).build(message)
    text = email.get_content()
    assert email["Subject"] == "Phản ánh PA-2026-000123: cập nhật"
    assert text.index("Phản ánh PA-2026-000123") < text.index("Your report PA-2026-000123")

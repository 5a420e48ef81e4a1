"""The webhooks' admin listings run a fixed number of statements, however many rows they list."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.webhooks.models import WebhookDelivery, WebhookSubscription
from tests.kit.queries import get_counted

BASE = "/api/v1/admin/webhooks"


def _rows(sessions: sessionmaker[Session], deliveries: int) -> int:
    now = utcnow()
    with sessions() as s:
        sub = WebhookSubscription(
            url="https://example.org/h", secret="s" * 64, event_types=["case.created"], created_at=now
        )
        s.add(sub)
        s.flush()
        for n in range(deliveries):
            s.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    event_id=f"e{sub.id}-{n}",
                    event_type="case.created",
                    payload={"id": f"e{n}", "data": {}},
                    state="dead",
                    attempts=8,
                    next_at=now,
                    last_error="HTTP 500",
                    created_at=now,
                )
            )
        s.commit()
        return sub.id


def test_listings_do_not_grow_with_rows(client, factory, sessions) -> None:
    admin = factory.headers("admin")
    one = _rows(sessions, 1)
    _, subs_small = get_counted(client, BASE, admin)
    _, log_small = get_counted(client, f"{BASE}/{one}/deliveries", admin)
    _, dead_small = get_counted(client, f"{BASE}/dead-letters", admin)
    many = _rows(sessions, 6)
    for _ in range(3):
        _rows(sessions, 0)
    subs, subs_big = get_counted(client, BASE, admin)
    log, log_big = get_counted(client, f"{BASE}/{many}/deliveries", admin)
    dead, dead_big = get_counted(client, f"{BASE}/dead-letters", admin)
    assert len(subs.json()["items"]) == 5
    assert len(log.json()["items"]) == 6
    assert len(dead.json()["items"]) == 7
    assert (subs_big.count, log_big.count, dead_big.count) == (
        subs_small.count,
        log_small.count,
        dead_small.count,
    )
    assert dead_big.count <= 4, str(dead_big)

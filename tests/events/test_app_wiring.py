"""The bus and the outbox relay inside the app: started first, stopped last, events reach consumers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.events.bus import Event, Subscription
from cityops.events.outbox import emit
from cityops.settings import Settings
from tests.events.buses import wait_until_sync


def test_a_plugin_consumer_receives_what_a_request_emitted(settings: Settings) -> None:
    app = create_app(settings)
    got: list[Event] = []
    order: list[str] = []
    subs: list[Subscription] = []

    async def consume(event: Event) -> None:
        got.append(event)

    async def start_consumer(app: FastAPI) -> None:
        order.append(f"consumer starts, bus ready={app.state.bus.is_ready()}")
        subs.append(await app.state.bus.subscribe("cases.>", "wiring-test", consume))

    async def stop_consumer(app: FastAPI) -> None:
        order.append(f"consumer stops, bus ready={app.state.bus.is_ready()}")
        await subs[0].stop()

    app.state.async_startup.append(start_consumer)  # as a plugin does in register_routes
    app.state.async_shutdown.append(stop_consumer)

    @app.post("/test-cases")
    def create_case() -> dict[str, str]:  # a sync endpoint, like the real write paths
        with app.state.sessions() as session:
            emit(session, "cases.created", {"case_id": 42})
            session.commit()
        return {}

    with TestClient(app) as client:
        assert client.post("/test-cases").status_code == 200
        wait_until_sync(lambda: len(got) == 1)
    assert got[0].payload == {"case_id": 42}
    assert order == ["consumer starts, bus ready=True", "consumer stops, bus ready=True"]
    assert not app.state.bus.is_ready()  # closed on shutdown, after the consumer stopped

"""The runner of declared consumers and background tasks, on both buses and through the app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.events.bus import Event, EventBus
from cityops.events.runner import Runner
from cityops.plugins import hookimpl, plugin_manager
from cityops.settings import Settings, load_settings
from cityops.specs import BackgroundTaskSpec, EventConsumerSpec
from tests.events.buses import MAX_DELIVER, wait_until, wait_until_sync


class Handled:
    """A handler that records the events it saw (in a worker thread) and fails the first ``fail`` times."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.calls: list[tuple[str, str]] = []
        self.threads: set[int] = set()
        self.sessions: list[object] = []

    def __call__(self, sessions: sessionmaker[Session], event: Event) -> None:
        self.calls.append((event.subject, event.id))
        self.threads.add(threading.get_ident())
        self.sessions.append(sessions)
        if len(self.calls) <= self.fail:
            raise RuntimeError("not yet")


SETTINGS = load_settings(env="test")
NO_SESSIONS: Any = object()  # the runner only hands it on


async def test_a_consumer_gets_its_subject_in_a_worker_thread_with_the_sessionmaker(bus: EventBus) -> None:
    handled = Handled()
    marker: Any = object()
    runner = Runner(bus, marker, SETTINGS, [EventConsumerSpec("runner-one", "cases.*", handled)])
    await runner.start()
    await bus.publish(Event("observations.created", {"n": 1}))
    sent = Event("cases.created", {"case_id": 1})
    await bus.publish(sent)
    await wait_until(lambda: len(handled.calls) == 1)
    await runner.stop()
    assert handled.calls == [("cases.created", sent.id)]
    assert handled.sessions == [marker]
    assert threading.get_ident() not in handled.threads
    assert runner.subscriptions == []


async def test_a_failing_handler_leaves_the_event_unacknowledged_so_it_comes_again(bus: EventBus) -> None:
    handled = Handled(fail=MAX_DELIVER - 1)
    runner = Runner(bus, NO_SESSIONS, SETTINGS, [EventConsumerSpec("runner-retry", "cases.created", handled)])
    await runner.start()
    sent = Event("cases.created", {"case_id": 2})
    await bus.publish(sent)
    await wait_until(lambda: len(handled.calls) == MAX_DELIVER)
    await runner.stop()
    assert handled.calls == [("cases.created", sent.id)] * MAX_DELIVER  # the same event each time
    assert not bus.dead_letters  # the last delivery succeeded


async def test_a_stopped_consumer_resumes_where_it_stopped(bus: EventBus) -> None:
    handled = Handled()
    spec = EventConsumerSpec("runner-resume", "cases.created", handled)
    first = Runner(bus, NO_SESSIONS, SETTINGS, [spec])
    await first.start()
    await first.stop()
    missed = Event("cases.created", {"case_id": 3})
    await bus.publish(missed)  # while nobody listens
    second = Runner(bus, NO_SESSIONS, SETTINGS, [spec])
    await second.start()
    await wait_until(lambda: len(handled.calls) == 1)
    await second.stop()
    assert handled.calls == [("cases.created", missed.id)]


async def test_a_background_task_runs_again_after_a_failure_and_stops_with_the_runner(bus: EventBus) -> None:
    runs: list[object] = []

    def run(sessions: sessionmaker[Session], settings: Settings) -> None:
        runs.append(settings)
        if len(runs) == 1:
            raise RuntimeError("first run fails")

    task = BackgroundTaskSpec("tick", 0.01, run)
    runner = Runner(bus, NO_SESSIONS, SETTINGS, tasks=[task])
    await runner.start()
    await wait_until(lambda: len(runs) >= 3)
    await runner.stop()
    stopped_at = len(runs)
    assert runs[0] is SETTINGS
    await asyncio.sleep(0.05)  # five intervals: a loop still alive would have run again
    assert len(runs) == stopped_at


# -- through the app: the events plugin runs what plugins declare ------------------------------------------


class ConsumerPlugin:
    def __init__(self) -> None:
        self.handled = Handled()

    @hookimpl
    def event_consumers(self, settings: Settings) -> list[EventConsumerSpec]:
        assert settings.env.value == "test"  # the app's own settings reach the hookimpl
        return [EventConsumerSpec("test-plugin-consumer", "cases.created", self.handled)]

    @hookimpl
    def background_tasks(self) -> list[BackgroundTaskSpec]:
        raise AssertionError("background tasks are not read in the test environment")


@pytest.fixture
def consumer_plugin() -> Iterator[ConsumerPlugin]:
    plugin = ConsumerPlugin()
    plugin_manager().register(plugin, name="test-consumer-plugin")
    try:
        yield plugin
    finally:
        plugin_manager().unregister(name="test-consumer-plugin")


def test_the_app_subscribes_declared_consumers_with_its_sessionmaker(
    settings: Settings, consumer_plugin: ConsumerPlugin
) -> None:
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 200
        sent = Event("cases.created", {"case_id": 4})
        client.portal.call(app.state.bus.publish, sent)  # type: ignore[union-attr]
        wait_until_sync(lambda: len(consumer_plugin.handled.calls) == 1)
        durables = {s.durable for s in app.state.runner.subscriptions}
    assert consumer_plugin.handled.calls == [("cases.created", sent.id)]
    assert consumer_plugin.handled.sessions == [app.state.sessions]
    assert {"test-plugin-consumer", "alerts-rules", "alerts-delivery"} <= durables
    assert app.state.runner.subscriptions == []  # stopped with the app

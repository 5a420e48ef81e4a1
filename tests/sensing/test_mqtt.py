"""MQTT through the real Mosquitto broker, on both database backends.

Each test uses its own topic prefix and client id, so tests (and parallel workers) never see each
other's messages. Waiting is bounded polling for an outcome, never a timing assertion.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.identity.apikeys import create_api_key
from cityops.sensing.models import Datastream, Observation, ObservedProperty, Sensor, Thing
from cityops.sensing.mqtt import bridge as bridge_module
from cityops.sensing.mqtt import subscription, transport
from cityops.sensing.mqtt.deadletter import MqttDeadLetter
from cityops.settings import Settings, load_settings
from cityops.urls import configured_base
from tests.conftest import Backend
from tests.services import MQTT_HOST, MQTT_PORT, require_mqtt

pytestmark = pytest.mark.mqtt


@pytest.fixture(autouse=True)
def _broker(monkeypatch: pytest.MonkeyPatch) -> None:
    require_mqtt()
    # The broker forgets the sessions of these test clients soon after the tests.
    monkeypatch.setattr(bridge_module, "SESSION_EXPIRY_S", 120)


@pytest.fixture
def mqtt_settings(backend: Backend, tmp_path: Path) -> Settings:
    tag = uuid.uuid4().hex[:10]
    return load_settings(
        env="test",
        data_dir=tmp_path / "data",
        database_url=backend.url,
        mqtt_url=f"mqtt://{MQTT_HOST}:{MQTT_PORT}",
        mqtt_client_id=f"cityops-test-{tag}",
        mqtt_topic_prefix=f"test-{tag}/",
    )


def wait_until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@contextmanager
def running(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    """The app with its MQTT bridge connected and subscribed."""
    app = create_app(settings)
    with TestClient(app) as client:
        assert wait_until(lambda: hasattr(app.state, "mqtt") and app.state.mqtt.connected.is_set())
        yield app, client


def counter(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


class Peer:
    """A device or subscriber on the broker (paho, MQTT 3.1.1)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{uuid.uuid4().hex[:8]}")
        self._subscribed = threading.Event()
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, orjson.loads(m.payload)))
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect(MQTT_HOST, MQTT_PORT)
        self.client.loop_start()

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10)

    def publish(self, topic: str, payload: bytes | dict[str, Any] | list[Any]) -> None:
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.client.publish(topic, body, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.close()


def station(sessions: sessionmaker[Session]) -> dict[str, int]:
    """A Thing with a salinity and a water-level datastream; returns their ids and the Thing's."""
    with sessions() as s:
        thing = Thing(name="Trạm Tân An", description="")
        sensor = Sensor(name="probe", description="", encoding_type="text/html", sensor_metadata="x")
        salt = ObservedProperty(name="Salinity", definition="x", ucum="g/L", properties={"code": "salinity"})
        level = ObservedProperty(name="Level", definition="y", ucum="m", properties={"code": "water_level"})
        s.add_all([thing, sensor, salt, level])
        s.flush()
        ids = {"thing": thing.id}
        for name, prop in [("Tân An salinity", salt), ("Tân An mực nước", level)]:
            ds = Datastream(
                name=name,
                description="",
                unit_of_measurement={"name": "u", "symbol": prop.ucum, "definition": "ucum"},
                observation_type="OM_Measurement",
                thing_id=thing.id,
                sensor_id=sensor.id,
                observed_property_id=prop.id,
            )
            s.add(ds)
            s.flush()
            ids[prop.properties["code"] if prop.properties else name] = ds.id
        s.commit()
    return ids


def observations(sessions: sessionmaker[Session], ds_id: int) -> list[tuple[datetime, float | None]]:
    with sessions() as s:
        rows = s.execute(
            select(Observation.phenomenon_time, Observation.result_number)
            .where(Observation.datastream_id == ds_id)
            .order_by(Observation.phenomenon_time)
        ).all()
    return [(r[0], r[1]) for r in rows]


def count_all(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Observation)) or 0)


T = "2026-03-01T10:00:00Z"
T_DT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_published_observation_is_stored_once_despite_redelivery(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    body = {"phenomenonTime": T, "result": 1.25}
    with running(mqtt_settings) as (app, _client):
        peer.publish(topic, body)
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        peer.publish(topic, body)  # what a QoS 1 redelivery looks like: the identical message again
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored") == 2
        )
        assert observations(sessions, ids["salinity"]) == [(T_DT, 1.25)]
        # Posting to the collection with a Datastream link works as well.
        peer.publish(
            f"{mqtt_settings.mqtt_topic_prefix}v1.1/Observations",
            {
                "phenomenonTime": "2026-03-01T10:05:00Z",
                "result": 2,
                "Datastream": {"@iot.id": ids["salinity"]},
            },
        )
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 2)


def test_bad_messages_are_counted_and_the_loop_goes_on(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    prefix = mqtt_settings.mqtt_topic_prefix
    good = f"{prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    with running(mqtt_settings) as (app, _client):
        peer.publish(good, b"{not json")
        peer.publish(good, {"phenomenonTime": T, "result": 1, "color": "red"})  # no such property
        peer.publish(good, {"phenomenonTime": 17, "result": 1})  # wrong type
        peer.publish(f"{prefix}v1.1/Datastreams(999999)/Observations", {"phenomenonTime": T, "result": 1})
        peer.publish(f"{prefix}v1.1/Things({ids['thing']})/Observations", {"result": 1})  # no such collection
        peer.publish(good, {"phenomenonTime": T, "result": 3.5})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        assert observations(sessions, ids["salinity"]) == [(T_DT, 3.5)]
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="rejected") == 4
        )
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="invalid") == 1
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored") == 1
        )
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Thing)) == 1


def test_device_topic_maps_names_to_the_things_datastreams(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    with sessions() as s:
        _, key = create_api_key(s, name="logger Tân An", scopes=["ingest"], thing_id=ids["thing"])
        _, unbound = create_api_key(s, name="gateway", scopes=["ingest"])
        _, reader = create_api_key(s, name="reader", scopes=["read"], thing_id=None)
        s.commit()
    prefix = mqtt_settings.mqtt_topic_prefix
    epoch_ms = int(T_DT.timestamp() * 1000)
    with running(mqtt_settings) as (app, _client):
        peer.publish(
            f"{prefix}cityops/v1/devices/{key}/telemetry",
            [
                {"ts": epoch_ms, "values": {"salinity": 1.5, "Tân An mực nước": 0.8, "rain": 3}},
                {"ts": "2026-03-01T17:05:00+07:00", "values": {"water_level": 0.9}},
            ],
        )
        assert wait_until(lambda: len(observations(sessions, ids["water_level"])) == 2)
        assert observations(sessions, ids["salinity"]) == [(T_DT, 1.5)]
        assert [v for _, v in observations(sessions, ids["water_level"])] == [0.8, 0.9]
        assert observations(sessions, ids["water_level"])[1][0] == datetime(2026, 3, 1, 10, 5, tzinfo=UTC)
        assert wait_until(lambda: counter(app, "cityops_mqtt_unknown_values_total") == 1)  # "rain"
        # Refused: an unknown key, a key bound to no Thing, a key without the ingest scope, bad shapes.
        for bad_key in ["cok_nope", unbound, reader]:
            peer.publish(f"{prefix}cityops/v1/devices/{bad_key}/telemetry", {"values": {"salinity": 9}})
        peer.publish(f"{prefix}cityops/v1/devices/{key}/telemetry", {"ts": True, "values": {"salinity": 9}})
        peer.publish(f"{prefix}cityops/v1/devices/{key}/telemetry", {"values": {"salinity": [9]}})
        peer.publish(
            f"{prefix}cityops/v1/devices/{key}/telemetry", {"ts": epoch_ms, "values": {"salinity": 1.5}}
        )
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="device", outcome="stored") == 2
        )
        assert counter(app, "cityops_mqtt_messages_total", kind="device", outcome="rejected") == 3
        assert counter(app, "cityops_mqtt_messages_total", kind="device", outcome="invalid") == 2
        assert count_all(sessions) == 3  # the re-sent reading is not a second row


def test_subscribers_receive_observations_created_over_http(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    with sessions() as s:
        _, key = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    prefix = mqtt_settings.mqtt_topic_prefix
    ds = ids["salinity"]
    peer.subscribe(f"{prefix}v1.1/Datastreams({ds})/Observations")
    peer.subscribe(f"{prefix}v1.1/Observations")
    with running(mqtt_settings) as (app, client):
        r = client.post(
            f"/sta/v1.1/Datastreams({ds})/Observations",
            json={"phenomenonTime": T, "result": 4.2},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 201, r.text
        assert wait_until(lambda: len(peer.received) == 2)
        topics = sorted(t for t, _ in peer.received)
        assert topics == [f"{prefix}v1.1/Datastreams({ds})/Observations", f"{prefix}v1.1/Observations"]
        entity = peer.received[0][1]
        assert entity["@iot.id"] == r.json()["@iot.id"]
        assert entity["result"] == 4.2
        assert entity["phenomenonTime"] == "2026-03-01T10:00:00Z"
        assert entity["@iot.selfLink"].endswith(f"/sta/v1.1/Observations({entity['@iot.id']})")
        # A notification that reaches cityops (say from another node) is never ingested again.
        peer.publish(
            f"{prefix}v1.1/Datastreams({ds})/Observations",
            {**entity, "phenomenonTime": "2026-03-02T00:00:00Z"},
        )
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="echo") == 1
        )
        assert count_all(sessions) == 1
        # cityops' own notifications do not come back to it (MQTT 5 "no local" subscriptions).
        r = client.post(
            f"/sta/v1.1/Datastreams({ds})/Observations",
            json={"phenomenonTime": "2026-03-01T10:05:00Z", "result": 4.3},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 201
        assert wait_until(lambda: len(peer.received) == 5)  # 2 + 2 notifications and the peer's own message
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="echo") == 1
        assert wait_until(lambda: counter(app, "cityops_mqtt_published_total") == 2)
        assert count_all(sessions) == 2


def test_messages_published_while_cityops_is_down_are_stored_on_start(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    with running(mqtt_settings):
        pass  # the first start creates the persistent session and its subscriptions
    peer.publish(topic, {"phenomenonTime": T, "result": 0.5})
    peer.publish(topic, {"phenomenonTime": "2026-03-01T10:05:00Z", "result": 0.6})
    assert count_all(sessions) == 0
    with running(mqtt_settings):
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 2)
    assert [v for _, v in observations(sessions, ids["salinity"])] == [0.5, 0.6]


def test_mqtt_is_off_without_a_broker_url(settings: Settings) -> None:
    app = create_app(settings)
    with TestClient(app):
        assert not hasattr(app.state, "mqtt")


def test_broker_address() -> None:
    assert transport.broker_address("mqtt://u:p%40ss@broker.local:1884") == (
        "broker.local",
        1884,
        "u",
        "p@ss",
        False,
    )
    assert transport.broker_address("mqtts://broker.local")[1:] == (8883, None, None, True)
    with pytest.raises(ValueError, match="MQTT URL"):
        transport.broker_address("http://broker.local")


def test_a_message_cityops_failed_to_store_is_delivered_again(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PUBACK goes out only after the commit: when storing fails (here: the first attempt raises, as a
    database outage would), the message stays unacknowledged, the bridge reconnects and the broker resends."""
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    real = bridge_module.MqttBridge._store_sta_batch
    attempts: list[int] = []

    def flaky(self: bridge_module.MqttBridge, fast: Any) -> Any:
        attempts.append(len(fast))
        if len(attempts) == 1:
            raise RuntimeError("database unavailable")
        return real(self, fast)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", flaky)
    with running(mqtt_settings) as (app, _client):
        peer.publish(topic, {"phenomenonTime": T, "result": 7.5})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        assert len(attempts) == 2
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="error") == 1
    assert observations(sessions, ids["salinity"]) == [(T_DT, 7.5)]


def test_the_bridge_reconnects_when_the_broker_drops_it(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    """A second client with cityops' id makes the broker drop cityops' connection (as a broker restart
    does); the bridge reconnects, subscribes again and goes on storing."""
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    with running(mqtt_settings) as (app, _client):
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=mqtt_settings.mqtt_client_id)
        intruder.connect(MQTT_HOST, MQTT_PORT)
        intruder.loop_start()
        intruder.loop_stop()
        intruder.disconnect()
        assert wait_until(lambda: app.state.mqtt.connections >= 2 and app.state.mqtt.connected.is_set())
        peer.publish(topic, {"phenomenonTime": T, "result": 2.5})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)


def test_one_worker_per_node_subscribes_the_others_publish(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several API workers share the client id; one holds the subscription (a lock in the data dir), the
    others only publish notifications, and one of them takes over when the holder stops."""
    monkeypatch.setattr(bridge_module, "ROLE_RETRY_S", 0.1)
    ids = station(sessions)
    with sessions() as s:
        _, key = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    prefix = mqtt_settings.mqtt_topic_prefix
    topic = f"{prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    peer.subscribe(f"{prefix}v1.1/Observations")
    with running(mqtt_settings) as (first, _c1), running(mqtt_settings) as (second, c2):
        assert first.state.mqtt.subscriber
        assert not second.state.mqtt.subscriber
        peer.publish(topic, {"phenomenonTime": T, "result": 1.0})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        r = c2.post(
            f"/sta/v1.1/Datastreams({ids['salinity']})/Observations",
            json={"phenomenonTime": "2026-03-01T10:05:00Z", "result": 1.1},
            headers={"X-API-Key": key},
        )
        assert r.status_code == 201
        assert wait_until(lambda: [m["result"] for _, m in peer.received] == [1.0, 1.1])
        # Each notification went out once, from whichever worker's outbox relay carried the event.
        assert wait_until(
            lambda: (
                counter(first, "cityops_mqtt_published_total")
                + counter(second, "cityops_mqtt_published_total")
                == 2
            )
        )
    with running(mqtt_settings) as (third, _c3):
        assert third.state.mqtt.subscriber
    # With the first one stopped, the other worker takes the subscription over.
    with running(mqtt_settings) as (app_a, _ca), running(mqtt_settings) as (app_b, _cb):
        assert app_a.state.mqtt.subscriber
        assert not app_b.state.mqtt.subscriber
        app_a_bridge = app_a.state.mqtt
        _ca.portal.call(app_a_bridge.stop)  # type: ignore[union-attr]
        assert wait_until(lambda: app_b.state.mqtt.subscriber and app_b.state.mqtt.connected.is_set())
        peer.publish(topic, {"phenomenonTime": "2026-03-01T10:10:00Z", "result": 1.2})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 3)


def test_a_message_that_always_fails_is_parked_after_the_attempts_and_acknowledged(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison message (storing it raises every time, though the database works) is delivered
    ``mqtt_max_attempts`` times, then parked in ``mqtt_dead_letters`` and acknowledged; the messages
    around it are stored."""
    settings = mqtt_settings.model_copy(update={"mqtt_max_attempts": 3})
    ids = station(sessions)
    topic = f"{settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    tries: list[int] = []
    real_batch = bridge_module.MqttBridge._store_sta_batch
    real_one = bridge_module.MqttBridge._store_sta
    real_ingest = bridge_module.MqttBridge.ingest_many

    def poisoned(data: Any) -> bool:
        return isinstance(data, dict) and data.get("result") == 666

    async def ingest_many(self: bridge_module.MqttBridge, batch: Any) -> Any:
        tries.extend(m.packet_id for m in batch if b"666" in m.payload)  # deliveries of the poison
        return await real_ingest(self, batch)

    def store_batch(self: bridge_module.MqttBridge, fast: Any) -> Any:
        if any(poisoned(data) for _i, _ds, data in fast):
            raise RuntimeError("a bug that only this message triggers")
        return real_batch(self, fast)

    def store_one(self: bridge_module.MqttBridge, path: str, data: Any) -> None:
        if poisoned(data):
            raise RuntimeError("a bug that only this message triggers")
        real_one(self, path, data)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", store_batch)
    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta", store_one)
    monkeypatch.setattr(bridge_module.MqttBridge, "ingest_many", ingest_many)
    with running(settings) as (app, _client):
        peer.publish(topic, {"phenomenonTime": T, "result": 1.0})
        peer.publish(topic, {"phenomenonTime": "2026-03-01T10:05:00Z", "result": 666})
        peer.publish(topic, {"phenomenonTime": "2026-03-01T10:10:00Z", "result": 2.0})
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="dead_letter") == 1
        )
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="error") == 2
        # Delivered no more after parking: a later message is stored and the poison was not tried again.
        peer.publish(topic, {"phenomenonTime": "2026-03-01T10:15:00Z", "result": 3.0})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 3)
        assert len(tries) == 3
    assert [v for _, v in observations(sessions, ids["salinity"])] == [1.0, 2.0, 3.0]
    with sessions() as s:
        parked = s.scalars(select(MqttDeadLetter)).all()
        assert [(p.topic, orjson.loads(p.payload)["result"], p.attempts) for p in parked] == [(topic, 666, 3)]
        assert "only this message" in parked[0].error
        assert parked[0].client_id == settings.mqtt_client_id


def test_nothing_is_parked_while_the_database_is_down(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When parking fails too (as when the database is down), the message stays with the broker however
    often it failed, and is stored once the database is back."""
    settings = mqtt_settings.model_copy(update={"mqtt_max_attempts": 1})
    ids = station(sessions)
    topic = f"{settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    real_batch = bridge_module.MqttBridge._store_sta_batch
    real_park = bridge_module.MqttBridge._park
    down = {"deliveries": 3}  # the database is down for three deliveries

    def store_batch(self: bridge_module.MqttBridge, fast: Any) -> Any:
        if down["deliveries"]:
            raise RuntimeError("database unavailable")
        return real_batch(self, fast)

    def park(self: bridge_module.MqttBridge, rows: Any) -> None:
        if down["deliveries"]:
            down["deliveries"] -= 1
            raise RuntimeError("database unavailable")
        real_park(self, rows)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", store_batch)
    monkeypatch.setattr(bridge_module.MqttBridge, "_park", park)
    with running(settings) as (app, _client):
        peer.publish(topic, {"phenomenonTime": T, "result": 5.5})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="error") == 3
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="dead_letter") == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MqttDeadLetter)) == 0


def test_a_redelivered_observation_without_time_keeps_the_time_it_was_given(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Observation without phenomenonTime gets the server time. If it was committed but not
    acknowledged (here: the store commits, then fails), the broker redelivers it with the DUP flag and
    the same packet id; it gets the same time again, so it is recognised and not stored twice."""
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    real = bridge_module.MqttBridge._store_sta_batch
    real_ingest = bridge_module.MqttBridge.ingest_many
    deliveries: list[tuple[int, bool]] = []
    calls: list[int] = []

    async def ingest_many(self: bridge_module.MqttBridge, batch: Any) -> Any:
        deliveries.extend((m.packet_id, m.dup) for m in batch)
        return await real_ingest(self, batch)

    def commit_then_fail(self: bridge_module.MqttBridge, fast: Any) -> Any:
        calls.append(1)
        refused = real(self, fast)
        if len(calls) == 1:
            raise RuntimeError("lost after the commit")
        return refused

    monkeypatch.setattr(bridge_module.MqttBridge, "ingest_many", ingest_many)
    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", commit_then_fail)
    with running(mqtt_settings) as (app, _client):
        peer.publish(topic, {"result": 0.7})
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored") == 1
        )
        # A new message without time (not a redelivery) is a new observation.
        peer.publish(topic, {"result": 0.7})
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored") == 2
        )
    assert len(observations(sessions, ids["salinity"])) == 2
    assert len(deliveries) == 3
    (first_id, first_dup), (again_id, again_dup), (_new_id, new_dup) = deliveries
    assert (first_dup, again_dup, new_dup) == (False, True, False)
    assert again_id == first_id
    assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="error") == 1


def test_notifications_render_as_sta_does(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    """The notification of an Observation with every optional property equals its STA GET."""
    ids = station(sessions)
    with sessions() as s:
        _, key = create_api_key(s, name="gateway", scopes=["ingest"])
        s.commit()
    prefix = mqtt_settings.mqtt_topic_prefix
    ds = ids["salinity"]
    peer.subscribe(f"{prefix}v1.1/Datastreams({ds})/Observations")
    body = {
        "phenomenonTime": "2026-03-01T10:00:00.250Z/2026-03-01T10:15:00Z",
        "resultTime": "2026-03-01T10:16:00Z",
        "result": 1.5,  # an OM_Measurement: a number (#21)
        "resultQuality": {"flag": "ok"},
        "validTime": "2026-03-01T10:00:00Z/2026-03-01T11:00:00Z",
        "parameters": {"depth_m": 1.2},
    }
    with running(mqtt_settings) as (_app, client):
        r = client.post(f"/sta/v1.1/Datastreams({ds})/Observations", json=body, headers={"X-API-Key": key})
        assert r.status_code == 201, r.text
        assert wait_until(lambda: len(peer.received) == 1)
        # Outside a request, notification links use host:port (cityops.urls.configured_base): read it there.
        url = f"{configured_base(mqtt_settings)}/sta/v1.1/Observations({r.json()['@iot.id']})"
        got = client.get(url, headers={"X-API-Key": key})
        assert peer.received[0][1] == got.json()


def test_a_failing_batch_is_retried_one_by_one_but_not_to_the_end_when_nothing_goes_through(
    mqtt_settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose transaction fails is stored message by message, so one bad apple does not hold back
    the others; when the first few all fail (the database is down), the rest wait for the next delivery
    untried, and only the tried ones count as attempts."""
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    bridge = bridge_module.MqttBridge(mqtt_settings, sessions, CollectorRegistry())
    tried: list[float] = []
    real_one = bridge_module.MqttBridge._store_sta
    down = {"on": False}

    def store_batch(self: bridge_module.MqttBridge, fast: Any) -> Any:
        raise RuntimeError("the batch's transaction failed")

    def store_one(self: bridge_module.MqttBridge, path: str, data: Any) -> None:
        tried.append(data["result"])
        if down["on"] or data["result"] == 666:
            raise RuntimeError("cannot store")
        real_one(self, path, data)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", store_batch)
    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta", store_one)

    def batch(results: list[float], hour: int = 10) -> list[transport.Incoming]:
        return [
            transport.Incoming(
                topic,
                orjson.dumps({"phenomenonTime": f"2026-03-01T{hour}:0{k}:00Z", "result": r}),
                1,
                k + 1,
                False,
            )
            for k, r in enumerate(results)
        ]

    outcomes = asyncio.run(bridge.ingest_many(batch([1.0, 666, 2.0])))
    assert [o for _k, o in outcomes] == ["stored", "error", "stored"]
    assert [v for _, v in observations(sessions, ids["salinity"])] == [1.0, 2.0]
    down["on"] = True
    tried.clear()
    outcomes = asyncio.run(bridge.ingest_many(batch([3.0, 4.0, 5.0, 6.0, 7.0, 8.0], hour=11)))
    assert [o for _k, o in outcomes] == ["error"] * 3 + ["deferred"] * 3
    assert tried == [3.0, 4.0, 5.0]
    assert len(bridge._attempts) == 4  # 666 once, and the three tried now
    errors = bridge.metrics.messages.labels("sta", "error")._value.get()
    assert errors == 4  # failed attempts only; the untried ones are counted apart
    assert bridge.metrics.messages.labels("sta", "deferred")._value.get() == 3
    # The broker delivers them again (DUP) once the database is back: all stored, none lost.
    down["on"] = False
    redelivered = [m._replace(dup=True) for m in batch([3.0, 4.0, 5.0, 6.0, 7.0, 8.0], hour=11)]
    outcomes = asyncio.run(bridge.ingest_many(redelivered))
    assert [o for _k, o in outcomes] == ["stored"] * 6
    assert [v for _, v in observations(sessions, ids["salinity"])] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert not bridge._attempts or set(bridge._attempts.values()) == {1}  # only 666's count is left


def test_processes_in_a_share_group_split_the_messages(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a share group every process subscribes, each in a slot of its own (client id and persistent
    session); the broker hands each message to one of them, none is lost or stored twice. A member
    other than slot 0 that stops leaves the group first, so the others get the rest; slot 0 keeps the
    group's messages while every process is down."""
    mqtt_settings = mqtt_settings.model_copy(update={"mqtt_share_group": f"g{uuid.uuid4().hex[:8]}"})
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"

    def stored(app: FastAPI) -> float:
        return counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored")

    def publish(first: int, last: int) -> None:
        for k in range(first, last):
            peer.publish(topic, {"phenomenonTime": f"2026-03-01T10:{k:02d}:00Z", "result": float(k)})

    with running(mqtt_settings) as (a, _ca), running(mqtt_settings) as (b, cb):
        assert a.state.mqtt.subscriber
        assert b.state.mqtt.subscriber
        assert (a.state.mqtt.slot, b.state.mqtt.slot) == (0, 1)
        publish(0, 10)
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 10)
        assert wait_until(lambda: stored(a) + stored(b) == 10)
        assert stored(a) > 0  # both took a share
        assert stored(b) > 0
        cb.portal.call(b.state.mqtt.stop)  # type: ignore[union-attr]
        before = stored(b)
        publish(10, 20)
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 20)
        assert stored(b) == before
    publish(20, 23)  # nobody is connected: slot 0's session keeps them
    with running(mqtt_settings) as (c, _cc):
        assert c.state.mqtt.slot == 0
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 23)
    assert [v for _, v in observations(sessions, ids["salinity"])] == [float(k) for k in range(23)]


def test_share_group_names_are_checked(mqtt_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert subscription.share_group(mqtt_settings) is None
    monkeypatch.setenv("CITYOPS_MQTT_SHARE_GROUP", "cityops")
    assert subscription.share_group(Settings(data_dir=mqtt_settings.data_dir)) == "cityops"
    for bad in ("a/b", "a+", "#", "a b"):
        monkeypatch.setenv("CITYOPS_MQTT_SHARE_GROUP", bad)
        with pytest.raises(ValidationError, match="mqtt_share_group"):
            Settings(data_dir=mqtt_settings.data_dir)


def test_a_slot_drops_the_subscriptions_of_its_previous_mode(
    mqtt_settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slot's lock file records the share group its session subscribed in, so a run in another mode
    unsubscribes the old filters (subscribed both ways, the slot would get every message twice)."""
    prefix = mqtt_settings.mqtt_topic_prefix
    plain = [
        f"{prefix}v1.1/+/Observations",
        f"{prefix}v1.1/Observations",
        f"{prefix}cityops/v1/devices/+/telemetry",
    ]

    def take(group: str | None) -> bridge_module.MqttBridge:
        settings = mqtt_settings.model_copy(update={"mqtt_share_group": group})
        bridge = bridge_module.MqttBridge(settings, sessions, CollectorRegistry())
        assert bridge._take_subscriber_role()
        return bridge

    first = take(None)
    assert first._other_filters() == []
    first._release_subscriber_role()
    shared = take("ga")
    assert shared.slot == 0
    assert shared._other_filters() == plain
    shared._release_subscriber_role()
    moved = take("gb")
    assert moved._other_filters() == plain + [f"$share/ga/{t}" for t in plain]
    moved._release_subscriber_role()
    back = take(None)
    assert back._other_filters() == [f"$share/gb/{t}" for t in plain]
    back._release_subscriber_role()


def test_buffered_socket_serves_small_reads_from_one_and_sends_writes_together() -> None:
    import socket

    a, b = socket.socketpair()
    try:
        wrapped = transport._BufferedSocket(a)
        b.sendall(b"\x30\x05hello\x40\x02\x00\x01")
        assert wrapped.recv(1) == b"\x30"
        assert wrapped.pending() == 10
        assert wrapped.recv(1) == b"\x05"
        assert wrapped.recv(100) == b"hello\x40\x02\x00\x01"  # never more than is buffered
        assert wrapped.pending() == 0
        assert wrapped.send(b"\x40\x02\x00\x01") == 4
        assert wrapped.send(b"\x40\x02\x00\x02") == 4
        assert wrapped.flush()
        assert b.recv(100) == b"\x40\x02\x00\x01\x40\x02\x00\x02"
        b.close()
        assert wrapped.recv(1) == b""  # the peer closed
    finally:
        a.close()


def test_packets_left_in_the_read_buffer_after_a_burst_are_read_too(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages queued while cityops was down arrive together; with a burst of one packet per wake-up,
    the rest sit in the read buffer, where the socket does not signal them again."""
    monkeypatch.setattr(transport, "READ_BURST", 1)
    # No notifications: their PUBACKs would wake the reader up anyway.
    quiet = mqtt_settings.model_copy(update={"mqtt_publish_entities": False})
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    with running(quiet):
        pass
    for k in range(30):
        peer.publish(topic, {"phenomenonTime": f"2026-03-01T10:{k:02d}:00Z", "result": float(k)})
    with running(quiet):
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 30)


def test_a_batch_that_failed_goes_back_into_one_transaction_once_storing_works_again(
    mqtt_settings: Settings, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A passing failure (SQLite locked by a long writer) fails the batch and the first message alone; once
    one message is stored, the rest of the batch is stored in one transaction again, not one each."""
    ids = station(sessions)
    topic = f"{mqtt_settings.mqtt_topic_prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    bridge = bridge_module.MqttBridge(mqtt_settings, sessions, CollectorRegistry())
    real_batch = bridge_module.MqttBridge._store_sta_batch
    real_one = bridge_module.MqttBridge._store_sta
    calls: list[tuple[str, int]] = []

    def store_batch(self: bridge_module.MqttBridge, fast: Any) -> Any:
        calls.append(("batch", len(fast)))
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return real_batch(self, fast)

    def store_one(self: bridge_module.MqttBridge, path: str, data: Any) -> None:
        calls.append(("one", 1))
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        real_one(self, path, data)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", store_batch)
    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta", store_one)
    batch = [
        transport.Incoming(
            topic,
            orjson.dumps({"phenomenonTime": f"2026-03-01T10:0{k}:00Z", "result": float(k)}),
            1,
            k + 1,
            False,
        )
        for k in range(6)
    ]
    outcomes = asyncio.run(bridge.ingest_many(batch))
    assert [o for _k, o in outcomes] == ["error"] + ["stored"] * 5
    assert calls == [("batch", 6), ("one", 1), ("one", 1), ("batch", 4)]
    assert [v for _, v in observations(sessions, ids["salinity"])] == [1.0, 2.0, 3.0, 4.0, 5.0]
    # The lock passed while the batch waited: its first message alone goes through, the rest together.
    calls.clear()
    calls.append(("earlier", 0))  # so that neither fake fails by its count any more …
    fail_batch = {"on": True}

    def store_batch_once(self: bridge_module.MqttBridge, fast: Any) -> Any:
        calls.append(("batch", len(fast)))
        if fail_batch.pop("on", False):
            raise RuntimeError("database is locked")
        return real_batch(self, fast)

    monkeypatch.setattr(bridge_module.MqttBridge, "_store_sta_batch", store_batch_once)
    redelivered = [
        m._replace(dup=True) for m in batch
    ]  # … and the first message (still unstored) comes again
    outcomes = asyncio.run(bridge.ingest_many(redelivered))
    assert [o for _k, o in outcomes] == ["stored"] * 6
    assert calls == [("earlier", 0), ("batch", 6), ("one", 1), ("batch", 5)]
    assert [v for _, v in observations(sessions, ids["salinity"])] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]

"""MQTT refuses what HTTP refuses, at once (#21 findings 9, 10, 11): an oversized id in a topic, a result that
does not fit the Datastream's observationType, a different value for a stored time. Refused messages are
acknowledged and parked in ``mqtt_dead_letters`` with the reason (attempts 0), never retried."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.apikeys import create_api_key
from cityops.sensing.mqtt.deadletter import MqttDeadLetter
from cityops.settings import Settings
from tests.sensing import test_mqtt
from tests.sensing.test_mqtt import T_DT, Peer, T, counter, observations, running, station, wait_until

# The MQTT tests' fixtures: a broker (skipped without one), settings on a fresh topic prefix, a peer client.
_broker = test_mqtt._broker
mqtt_settings = test_mqtt.mqtt_settings
peer = test_mqtt.peer

pytestmark = pytest.mark.mqtt


def _parked(sessions: sessionmaker[Session]) -> list[MqttDeadLetter]:
    with sessions() as s:
        return list(s.scalars(select(MqttDeadLetter).order_by(MqttDeadLetter.id)))


def test_bad_sta_messages_are_refused_and_parked_at_once(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    prefix = mqtt_settings.mqtt_topic_prefix
    good = f"{prefix}v1.1/Datastreams({ids['salinity']})/Observations"
    huge = f"{prefix}v1.1/Datastreams({'9' * 30})/Observations"
    with running(mqtt_settings) as (app, _client):
        peer.publish(huge, {"phenomenonTime": T, "result": 1})  # failed in the database, retried 4 times
        peer.publish(
            f"{prefix}v1.1/Datastreams({'9' * 30})/Observations",
            {"result": 1, "FeatureOfInterest": {"@iot.id": 1}},
        )
        peer.publish(good, {"phenomenonTime": "2026-03-01T09:00:00Z", "result": "12.5"})  # text
        peer.publish(good, {"phenomenonTime": "2026-03-01T09:00:00Z", "result": {"v": 1}})  # object
        peer.publish(good, {"phenomenonTime": "2026-03-01T09:00:00Z", "result": True})  # boolean
        peer.publish(good, {"phenomenonTime": T, "result": 3.5})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        peer.publish(good, {"phenomenonTime": T, "result": 3.5})  # a retry: fine
        peer.publish(good, {"phenomenonTime": T, "result": 8.0})  # another value for that time
        assert wait_until(lambda: len(_parked(sessions)) == 6)
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="error") == 0
        assert counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="dead_letter") == 0
        # (counted just after parking)
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="sta", outcome="stored") == 2
        )
    assert observations(sessions, ids["salinity"]) == [(T_DT, 3.5)]
    parked = _parked(sessions)
    assert {p.attempts for p in parked} == {0}
    errors = [p.error for p in parked]
    assert sum("out of range" in e for e in errors) == 2
    assert sum("OM_Measurement" in e for e in errors) == 3
    assert sum("another value is stored" in e for e in errors) == 1


def test_device_telemetry_is_checked_like_sta(
    mqtt_settings: Settings, sessions: sessionmaker[Session], peer: Peer
) -> None:
    ids = station(sessions)
    with sessions() as s:
        _, key = create_api_key(s, name="logger", scopes=["ingest"], thing_id=ids["thing"])
        s.commit()
    topic = f"{mqtt_settings.mqtt_topic_prefix}cityops/v1/devices/{key}/telemetry"
    with running(mqtt_settings) as (app, _client):
        peer.publish(topic, {"ts": T, "values": {"salinity": "high"}})
        peer.publish(topic, {"ts": T, "values": {"salinity": 1.5}})
        assert wait_until(lambda: len(observations(sessions, ids["salinity"])) == 1)
        peer.publish(topic, {"ts": T, "values": {"salinity": 2.5, "water_level": 0.5}})  # 2.5 conflicts
        assert wait_until(lambda: len(_parked(sessions)) == 2)
        assert wait_until(
            lambda: counter(app, "cityops_mqtt_messages_total", kind="device", outcome="rejected") == 1
        )
        assert counter(app, "cityops_mqtt_messages_total", kind="device", outcome="invalid") == 1
    # As HTTP's 409: nothing of the conflicting message is stored (its water level neither).
    assert observations(sessions, ids["water_level"]) == []
    assert observations(sessions, ids["salinity"]) == [(T_DT, 1.5)]
    assert [p.attempts for p in _parked(sessions)] == [0, 0]
    assert key not in _parked(sessions)[0].error

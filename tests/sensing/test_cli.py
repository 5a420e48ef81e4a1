"""``cityops sensing`` commands against the test database."""

from __future__ import annotations

import queue
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.sensing.cli import sensing_cli
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import ObservationRollup
from cityops.sensing.mqtt.deadletter import MqttDeadLetter, park
from cityops.settings import Settings
from tests.sensing.test_storage import make_datastream
from tests.services import MQTT_HOST, MQTT_PORT, require_mqtt


def test_latest_rebuild_and_partitions(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, datetime(2026, 3, 1, tzinfo=UTC), 4.25)])
    session.execute(delete(ObservationRollup))
    session.commit()
    runner = CliRunner()
    out = runner.invoke(sensing_cli, ["latest"])
    assert out.exit_code == 0, out.output
    assert "4.25" in out.output
    out = runner.invoke(sensing_cli, ["rebuild-rollups", str(ds.id)])
    assert out.exit_code == 0, out.output
    session.expire_all()
    assert len(session.scalars(select(ObservationRollup)).all()) == 3
    assert runner.invoke(sensing_cli, ["rebuild-rollups", "999999"]).exit_code == 1
    out = runner.invoke(sensing_cli, ["partitions", "--months-ahead", "1"])
    assert out.exit_code == 0, out.output
    expected = "4 partition" if settings.effective_database_url.startswith("postgresql") else "0 partition"
    assert expected in out.output


def test_dead_letters_are_listed_replayed_to_the_broker_and_dropped(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_mqtt()
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("CITYOPS_MQTT_URL", f"mqtt://{MQTT_HOST}:{MQTT_PORT}")
    topic = f"cityops-test/{uuid.uuid4().hex}/v1.1/Datastreams(7)/Observations"
    park(session, "bridge-1", [(topic, b'{"result": 1.5}', 5, "boom"), (topic + "/x", b"{}", 5, "boom")])
    session.commit()
    first, second = session.scalars(select(MqttDeadLetter.id).order_by(MqttDeadLetter.id)).all()
    runner = CliRunner()
    out = runner.invoke(sensing_cli, ["dead-letters"])
    assert out.exit_code == 0, out.output
    assert "boom" in out.output

    received: queue.Queue[bytes] = queue.Queue()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, msg: received.put(bytes(msg.payload))
    sub.connect(MQTT_HOST, MQTT_PORT)
    sub.subscribe(topic, qos=1)
    sub.loop_start()
    try:
        time.sleep(0.3)  # let the subscription reach the broker before publishing
        out = runner.invoke(sensing_cli, ["dead-letters", "--replay", str(first)])
        assert out.exit_code == 0, out.output
        assert received.get(timeout=10) == b'{"result": 1.5}'
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert runner.invoke(sensing_cli, ["dead-letters", "--replay", "999999"]).exit_code == 1
    out = runner.invoke(sensing_cli, ["dead-letters", "--delete", str(second)])
    assert out.exit_code == 0, out.output
    session.expire_all()
    assert session.scalars(select(MqttDeadLetter.id)).all() == []

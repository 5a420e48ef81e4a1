"""The simulator's engine: its schedule, payloads, senders and run loop, and the ``cityops simulate`` command
(no timings). The sectors' station models are tested with their sectors (tests/sectors/*/test_simulation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cityops.sensing.simulator import (
    RunStats,
    Sender,
    StationSpec,
    bump,
    create_observations_body,
    datastream_index,
    local_hour,
    local_weekday,
    mqtt_message,
    noise,
    readings,
    run,
)


@dataclass(frozen=True, slots=True)
class Ramp:
    """A test model: ``salinity`` and ``water_level`` rise by one per hour; anything else is not simulated."""

    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        if code not in {"salinity", "water_level"}:
            return None
        return (t - datetime(2026, 1, 1, tzinfo=UTC)).total_seconds() / 3600 + seed


UPSTREAM = StationSpec("TA", "Tân An", "water", 10.53, 106.41, ("salinity", "water_level"), Ramp())
AIR = StationSpec("AQ", "Tân An", "air", 10.54, 106.41, ("salinity", "pm25"), Ramp(), interval_s=3600)


def test_helpers_use_vietnam_local_time_and_reproducible_noise() -> None:
    t = datetime(2026, 5, 3, 17, 30, tzinfo=UTC)  # Sunday 17:30 UTC = Monday 00:30 in Vietnam
    assert local_hour(t) == 0.5
    assert local_weekday(t) == 0
    assert noise(1, "TA", "sal", t=t) == noise(1, "TA", "sal", t=t + timedelta(seconds=30))  # per minute
    assert noise(1, "TA", "sal", t=t) != noise(2, "TA", "sal", t=t)
    assert bump(7.0, 7.0, 1.0) == 1.0
    assert bump(9.0, 7.0, 1.0) < 0.2


def test_readings_come_from_each_station_model_and_skip_what_it_does_not_simulate() -> None:
    start = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    rs = list(readings([AIR], start, start + timedelta(hours=1), seed=3))
    assert [(r.station, r.property, r.time, r.value) for r in rs] == [("AQ", "salinity", start, 4.0)]


def test_schedule_aligns_to_intervals_and_orders_by_time() -> None:
    start = datetime(2026, 4, 1, 0, 2, tzinfo=UTC)
    rs = list(readings([UPSTREAM, AIR], start, start + timedelta(hours=2)))
    water_times = sorted({r.time for r in rs if r.station == "TA"})
    assert water_times[0] == datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert len(water_times) == 24  # every 5 min from 00:05 to 02:00 (the window ends at 02:02)
    one, two = datetime(2026, 4, 1, 1, 0, tzinfo=UTC), datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    assert [r.time for r in rs if r.station == "AQ"] == [one, two]  # pm25 is not simulated by Ramp
    assert [r.time for r in rs] == sorted(r.time for r in rs)


def test_payloads() -> None:
    t = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    body = create_observations_body({7: [(t, 1.5), (t + timedelta(minutes=5), 1.6)], 8: []})
    assert body == [
        {
            "Datastream": {"@iot.id": 7},
            "components": ["phenomenonTime", "result"],
            "dataArray@iot.count": 2,
            "dataArray": [["2026-04-01T01:00:00Z", 1.5], ["2026-04-01T01:05:00Z", 1.6]],
        }
    ]
    assert mqtt_message(7, t, 1.5) == (
        "v1.1/Datastreams(7)/Observations",
        {"phenomenonTime": "2026-04-01T01:00:00Z", "result": 1.5},
    )
    things = [
        {
            "properties": {"station_code": "TA"},
            "Datastreams": [
                {"@iot.id": 3, "ObservedProperty": {"properties": {"code": "salinity"}}},
                {"@iot.id": 4, "ObservedProperty": {"properties": {}}},
            ],
        },
        {"properties": None, "Datastreams": []},
    ]
    assert datastream_index(things) == {("TA", "salinity"): 3}


class _Recorder(Sender):
    def __init__(self) -> None:
        self.batches: list[dict[int, list[tuple[datetime, float]]]] = []

    def resolve(self) -> dict[tuple[str, str], int]:
        return {("TA", "salinity"): 1}

    def send(self, batch: object) -> int:
        self.batches.append(dict(batch))  # type: ignore[call-overload]
        return sum(len(v) for v in self.batches[-1].values())


def test_run_at_speed_uses_the_given_clock() -> None:
    # A fake clock: each tick advances 1 s of wall time = 60 s simulated at speed 60.
    wall = [0.0]

    def sleep(s: float) -> None:
        wall[0] += s

    rec = _Recorder()
    start = datetime(2026, 4, 1, tzinfo=UTC)
    stats = run([UPSTREAM], rec, start=start, minutes=30, speed=60, monotonic=lambda: wall[0], sleep=sleep)
    assert isinstance(stats, RunStats)
    assert stats.sent == 6  # salinity every 5 min in [00:00, 00:30)
    assert stats.skipped == 6  # water level has no datastream on the "server"
    sent_times = [t for b in rec.batches for t, _ in b[1]]
    assert sent_times == [start + timedelta(minutes=5 * i) for i in range(6)]
    # As fast as possible: same readings.
    fast = run([UPSTREAM], _Recorder(), start=start, minutes=30, speed=0)
    assert fast.sent == 6


def test_mqtt_sender_publishes_observations_to_the_broker() -> None:
    import threading
    import uuid

    import orjson
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from cityops.sensing.simulator import MqttSender
    from tests.services import MQTT_HOST, MQTT_PORT, require_mqtt

    require_mqtt()
    ds_id = 900000 + uuid.uuid4().int % 99999  # a topic no other test uses
    received: list[tuple[str, dict[str, object]]] = []
    subscribed, done = threading.Event(), threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        received.append((msg.topic, orjson.loads(msg.payload)))
        if len(received) == 3:
            done.set()

    listener = mqtt.Client(CallbackAPIVersion.VERSION2)
    listener.on_message = on_message
    listener.on_subscribe = lambda *a: subscribed.set()
    listener.connect(MQTT_HOST, MQTT_PORT)
    listener.subscribe(f"v1.1/Datastreams({ds_id})/Observations", qos=1)
    listener.loop_start()
    try:
        assert subscribed.wait(10)

        class _Index(Sender):
            def resolve(self) -> dict[tuple[str, str], int]:
                return {("TA", "salinity"): ds_id}

        sender = MqttSender(f"mqtt://{MQTT_HOST}:{MQTT_PORT}", _Index())
        start = datetime(2026, 4, 1, tzinfo=UTC)
        stats = run([UPSTREAM], sender, start=start, minutes=15, speed=0)
        assert stats.sent == 3
        assert done.wait(10)
    finally:
        listener.loop_stop()
        listener.disconnect()
    assert [t for t, _ in received] == [f"v1.1/Datastreams({ds_id})/Observations"] * 3
    assert [m["phenomenonTime"] for _, m in received] == [
        "2026-04-01T00:00:00Z",
        "2026-04-01T00:05:00Z",
        "2026-04-01T00:10:00Z",
    ]
    assert all(isinstance(m["result"], float) for _, m in received)


def test_simulate_feeds_every_sectors_demo_stations() -> None:
    from cityops.sensing.simulate import demo_stations

    stations = {s.code: s for s in demo_stations()}
    assert {"VCT-TANAN", "AQ-TANAN", "TF-QL1-TANAN", "TF-QL62-TANAN"} <= set(stations)
    assert {s.kind for s in stations.values()} >= {"water", "air", "traffic"}
    t = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    for code in ("VCT-TANAN", "TF-QL1-TANAN"):
        station = stations[code]
        assert all(station.model.value_of(p, t, station, 0) is not None for p in station.properties)


def test_simulate_command_is_registered_and_fails_readably() -> None:
    import typer
    from typer.testing import CliRunner

    from cityops.sensing.plugin import register_cli

    app = typer.Typer()
    register_cli(cli=app)
    runner = CliRunner()
    assert runner.invoke(app, ["simulate", "--station", "NOPE"]).exit_code == 2
    # Nothing listens on port 9: the run stops with a message, not a traceback.
    result = runner.invoke(app, ["simulate", "--url", "http://127.0.0.1:9", "--minutes", "5", "--speed", "0"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    bad = runner.invoke(app, ["simulate", "--via", "pigeon"])
    assert bad.exit_code == 2

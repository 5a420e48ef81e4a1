"""Statistical properties of the simulator's generators, its schedule and payloads (no timings)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from statistics import mean

import pytest

from cityops.sensing.simulator import (
    M2_HOURS,
    RunStats,
    Sender,
    StationSpec,
    create_observations_body,
    datastream_index,
    local_hour,
    mqtt_message,
    pm25,
    readings,
    run,
    salinity,
    tide,
    traffic_count,
    value_of,
    water_level,
)

DOWNSTREAM = StationSpec(
    "CG", "Cần Giuộc", "water", 10.6, 106.67, ("salinity", "water_level"), distance_to_sea_km=25
)
UPSTREAM = StationSpec(
    "TA", "Tân An", "water", 10.53, 106.41, ("salinity", "water_level"), distance_to_sea_km=60
)
AIR = StationSpec("AQ", "Tân An", "air", 10.54, 106.41, ("pm25", "pm10"), interval_s=3600)
QL1 = StationSpec(
    "QL1", "QL1", "traffic", 10.55, 106.42, ("traffic_motorbike", "mean_speed"), traffic_scale=1.0
)
QL62 = StationSpec("QL62", "QL62", "traffic", 10.56, 106.4, ("traffic_motorbike",), traffic_scale=0.5)


def hourly(start: datetime, days: int, step_min: int = 10) -> list[datetime]:
    return [start + timedelta(minutes=step_min * i) for i in range(days * 24 * 60 // step_min)]


def test_tide_period_is_semi_diurnal() -> None:
    # High waters over 30 days: the mean spacing of successive maxima is the M2 period (12.42 h).
    times = hourly(datetime(2026, 3, 1, tzinfo=UTC), 30)
    heights = [tide(t) for t in times]
    peaks = [times[i] for i in range(1, len(times) - 1) if heights[i - 1] < heights[i] >= heights[i + 1]]
    spacing = [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(peaks)]
    assert 55 <= len(peaks) <= 60
    assert mean(spacing) == pytest.approx(M2_HOURS, abs=0.1)
    # Spring–neap: the daily range varies by a factor > 2 over a fortnight (M2 + 0.46 S2).
    ranges = [
        max(heights[d * 144 : (d + 1) * 144]) - min(heights[d * 144 : (d + 1) * 144]) for d in range(30)
    ]
    assert max(ranges) / min(ranges) > 2


def test_salinity_is_higher_in_the_dry_season_and_downstream() -> None:
    march = hourly(datetime(2026, 3, 20, tzinfo=UTC), 7)
    september = hourly(datetime(2026, 9, 20, tzinfo=UTC), 7)
    up_dry = mean(salinity(t, UPSTREAM) for t in march)
    up_wet = mean(salinity(t, UPSTREAM) for t in september)
    down_dry = mean(salinity(t, DOWNSTREAM) for t in march)
    assert up_dry > 5 * up_wet
    assert down_dry > 2 * up_dry
    # Upstream of Tân An salinity reaches the 1 g/L crop threshold in the dry season but not in the wet.
    assert max(salinity(t, UPSTREAM) for t in march) > 1.0
    assert max(salinity(t, UPSTREAM) for t in september) < 1.0
    # The tide drives salinity: correlation with the (lagged) water level is strongly positive.
    lagged = [water_level(t - timedelta(hours=1), UPSTREAM) for t in march]
    values = [salinity(t, UPSTREAM) for t in march]
    assert _corr(lagged, values) > 0.8


def _corr(xs: list[float], ys: list[float]) -> float:
    mx, my = mean(xs), mean(ys)
    num = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    den = math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))
    return num / den


def _by_local_hour(values: list[tuple[datetime, float]], hours: range) -> float:
    return mean(v for t, v in values if int(local_hour(t)) in hours)


def test_pm25_rush_hours_and_dry_season() -> None:
    jan = [(t, pm25(t, AIR)) for t in hourly(datetime(2026, 1, 5, tzinfo=UTC), 14, 30)]
    aug = [(t, pm25(t, AIR)) for t in hourly(datetime(2026, 8, 5, tzinfo=UTC), 14, 30)]
    morning, evening = _by_local_hour(jan, range(7, 9)), _by_local_hour(jan, range(18, 20))
    noon, night = _by_local_hour(jan, range(12, 14)), _by_local_hour(jan, range(3, 5))
    assert morning > 1.4 * noon
    assert evening > 1.4 * noon
    assert morning > night
    assert mean(v for _, v in jan) > 1.3 * mean(v for _, v in aug)
    assert all(v > 0 for _, v in jan)


def test_traffic_rush_hours_and_roads() -> None:
    days = hourly(datetime(2026, 5, 4, tzinfo=UTC), 5, 15)  # Monday–Friday local time (mostly)
    ql1 = [(t, traffic_count(t, QL1, "traffic_motorbike")) for t in days]
    ql62 = [(t, traffic_count(t, QL62, "traffic_motorbike")) for t in days]
    rush = _by_local_hour(ql1, range(7, 8))
    evening_rush = _by_local_hour(ql1, range(17, 18))
    assert rush > 1.3 * _by_local_hour(ql1, range(12, 13))
    assert evening_rush > 1.3 * _by_local_hour(ql1, range(12, 13))
    assert _by_local_hour(ql1, range(12, 13)) > 3 * _by_local_hour(ql1, range(2, 3))
    assert mean(v for _, v in ql1) > 1.5 * mean(v for _, v in ql62)
    # Speed falls at rush hour.
    speeds = [(t, value_of("mean_speed", t, QL1) or 0.0) for t in days]
    assert _by_local_hour(speeds, range(7, 8)) < _by_local_hour(speeds, range(2, 3)) - 10


def test_generators_are_deterministic_per_seed() -> None:
    t = datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    assert salinity(t, UPSTREAM, seed=1) == salinity(t, UPSTREAM, seed=1)
    assert pm25(t, AIR, seed=1) != pm25(t, AIR, seed=2)
    assert value_of("noise", t, AIR) is None


def test_schedule_aligns_to_intervals_and_orders_by_time() -> None:
    start = datetime(2026, 4, 1, 0, 2, tzinfo=UTC)
    rs = list(readings([UPSTREAM, AIR], start, start + timedelta(hours=2)))
    water_times = sorted({r.time for r in rs if r.station == "TA"})
    assert water_times[0] == datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert len(water_times) == 24  # every 5 min from 00:05 to 02:00 (the window ends at 02:02)
    one, two = datetime(2026, 4, 1, 1, 0, tzinfo=UTC), datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
    assert [r.time for r in rs if r.station == "AQ"] == [one, one, two, two]
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

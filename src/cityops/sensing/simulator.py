"""The station simulator's engine: realistic, deterministic series for the demo and the benchmarks.

What a station measures and how its values move is a sector's knowledge: each :class:`StationSpec` carries a
:class:`~cityops.specs.StationModel` (``value_of(code, t, station, seed)``), a pure function of time and seed,
so a replay gives the same values (the tidal rivers and the air in ``cityops.sectors.environment.simulation``,
the roads in ``cityops.sectors.traffic.simulation``). The sectors declare their demo stations through the
``demo_stations`` hook; this module only schedules, batches and sends, and offers the models the helpers they
share: Vietnamese local time (UTC+7), a reproducible noise of (seed, key, minute) and a Gaussian bump for
daily profiles. Times are UTC inside.

Sending: over HTTP with SensorThings ``CreateObservations`` (``POST {url}/sta/v1.1/CreateObservations``,
dataArray) or over MQTT publishing one Observation JSON per message to ``v1.1/Datastreams({id})/Observations``
(QoS 1). Datastreams are found by the Thing's ``properties.station_code`` and the ObservedProperty's
``properties.code``.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cityops.specs import StationModel as StationModel
from cityops.specs import StationSpec as StationSpec

LOCAL_OFFSET = timedelta(hours=7)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------------------------------- helpers


def hours_since_epoch(t: datetime) -> float:
    """Hours since 2000-01-01 UTC: the phase clock of periodic models (tides)."""
    return (t - EPOCH).total_seconds() / 3600.0


def local_hour(t: datetime) -> float:
    """Hour of day in Vietnam (UTC+7) as a fraction, 0 ≤ h < 24."""
    lt = t.astimezone(UTC) + LOCAL_OFFSET
    return lt.hour + lt.minute / 60 + lt.second / 3600


def local_weekday(t: datetime) -> int:
    """Day of the week in Vietnam (UTC+7), Monday = 0."""
    return (t.astimezone(UTC) + LOCAL_OFFSET).weekday()


def noise(seed: int, *key: object, t: datetime, sigma: float = 1.0) -> float:
    """Reproducible Gaussian noise for (seed, key…, minute of ``t``)."""
    minute = int((t - EPOCH).total_seconds() // 60)
    text = "|".join(str(k) for k in (seed, *key, minute))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big")).gauss(0.0, sigma)


def bump(x: float, mu: float, sigma: float) -> float:
    """A Gaussian bump of height 1 at ``mu``: the shape of a rush hour in a daily profile."""
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


# ------------------------------------------------------------------------------------------ schedule


@dataclass(frozen=True, slots=True)
class Reading:
    station: str
    property: str
    time: datetime
    value: float


def readings(
    stations: Sequence[StationSpec], start: datetime, end: datetime, *, seed: int = 0
) -> Iterator[Reading]:
    """Every reading due in [start, end), in time order; times aligned to each station's interval."""
    due: list[tuple[datetime, int]] = []
    for i, st in enumerate(stations):
        step = st.interval_s
        first = math.ceil((start - EPOCH).total_seconds() / step) * step
        due.append((EPOCH + timedelta(seconds=first), i))
    while True:
        due.sort()
        t, i = due[0]
        if t >= end:
            return
        st = stations[i]
        for code in st.properties:
            v = st.model.value_of(code, t, st, seed)
            if v is not None:
                yield Reading(st.code, code, t, v)
        due[0] = (t + timedelta(seconds=st.interval_s), i)


# ------------------------------------------------------------------------------------------- payloads


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def create_observations_body(batch: Mapping[int, Sequence[tuple[datetime, float]]]) -> list[dict[str, Any]]:
    """The ``CreateObservations`` dataArray body for points grouped by datastream id."""
    return [
        {
            "Datastream": {"@iot.id": ds_id},
            "components": ["phenomenonTime", "result"],
            "dataArray@iot.count": len(points),
            "dataArray": [[iso(t), v] for t, v in points],
        }
        for ds_id, points in sorted(batch.items())
        if points
    ]


def mqtt_message(datastream_id: int, t: datetime, value: float) -> tuple[str, dict[str, Any]]:
    """Topic and JSON of one Observation published over MQTT."""
    return f"v1.1/Datastreams({datastream_id})/Observations", {"phenomenonTime": iso(t), "result": value}


def datastream_index(things: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    """(station_code, property code) → Datastream id, from STA Things expanded with Datastreams/ObservedProperty."""
    out: dict[tuple[str, str], int] = {}
    for thing in things:
        station = (thing.get("properties") or {}).get("station_code")
        if not station:
            continue
        for ds in thing.get("Datastreams", []):
            op = ds.get("ObservedProperty") or {}
            code = (op.get("properties") or {}).get("code")
            if code:
                out[(str(station), str(code))] = int(ds["@iot.id"])
    return out


# -------------------------------------------------------------------------------------------- senders


class Sender:
    """Where readings go. ``resolve`` maps (station, property) to datastream ids; ``send`` delivers."""

    def resolve(self) -> dict[tuple[str, str], int]:
        raise NotImplementedError

    def send(self, batch: Mapping[int, Sequence[tuple[datetime, float]]]) -> int:
        raise NotImplementedError

    def close(self) -> None:
        return None


class HttpSender(Sender):
    """SensorThings over HTTP: ``CreateObservations`` with data arrays."""

    def __init__(self, url: str, *, api_key: str | None = None, client: Any = None) -> None:
        import httpx

        headers = {"X-API-Key": api_key} if api_key else {}
        self.base = url.rstrip("/") + "/sta/v1.1"
        self.client = client if client is not None else httpx.Client(timeout=30.0)
        self.headers = headers

    def resolve(self) -> dict[tuple[str, str], int]:
        things: list[dict[str, Any]] = []
        url: str | None = self.base + "/Things?$expand=Datastreams($expand=ObservedProperty)&$top=200"
        while url:
            resp = self.client.get(url, headers=self.headers)
            resp.raise_for_status()
            body = resp.json()
            things += body.get("value", [])
            url = body.get("@iot.nextLink")
        return datastream_index(things)

    def send(self, batch: Mapping[int, Sequence[tuple[datetime, float]]]) -> int:
        body = create_observations_body(batch)
        if not body:
            return 0
        resp = self.client.post(self.base + "/CreateObservations", json=body, headers=self.headers)
        resp.raise_for_status()
        return sum(len(p) for p in batch.values())


class MqttSender(Sender):
    """SensorThings over MQTT: one Observation per message on ``v1.1/Datastreams(id)/Observations``, QoS 1.

    Datastream ids are resolved over HTTP (``url``), as MQTT cannot list entities.
    """

    def __init__(self, mqtt_url: str, http: Sender) -> None:
        from urllib.parse import urlparse

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parsed = urlparse(mqtt_url)
        self.http = http
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cityops-simulator")
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883)
        self.client.loop_start()

    def resolve(self) -> dict[tuple[str, str], int]:
        return self.http.resolve()

    def send(self, batch: Mapping[int, Sequence[tuple[datetime, float]]]) -> int:
        import orjson

        infos = []
        for ds_id, points in batch.items():
            for t, v in points:
                topic, message = mqtt_message(ds_id, t, v)
                infos.append(self.client.publish(topic, orjson.dumps(message), qos=1))
        for info in infos:
            info.wait_for_publish(timeout=30)
        return len(infos)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class RunStats:
    sent: int = 0
    skipped: int = 0  # readings of stations/properties without a datastream on the server
    batches: int = 0


def run(
    stations: Sequence[StationSpec],
    sender: Sender,
    *,
    start: datetime,
    minutes: float,
    speed: float = 60.0,
    seed: int = 0,
    tick_seconds: float = 1.0,
    monotonic: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    on_batch: Callable[[RunStats, datetime], None] | None = None,
) -> RunStats:
    """Feed ``minutes`` of simulated time from ``start``; ``speed`` simulated seconds per real second
    (0 = as fast as possible, in batches of one simulated hour)."""
    import time

    clock = monotonic or time.monotonic
    pause = sleep or time.sleep
    index = sender.resolve()
    end = start + timedelta(minutes=minutes)
    stats = RunStats()
    wall0 = clock()
    sim = start
    while sim < end:
        if speed > 0:
            pause(tick_seconds)
            nxt = min(start + timedelta(seconds=(clock() - wall0) * speed), end)
        else:
            nxt = min(sim + timedelta(hours=1), end)
        batch: dict[int, list[tuple[datetime, float]]] = {}
        for r in readings(stations, sim, nxt, seed=seed):
            ds_id = index.get((r.station, r.property))
            if ds_id is None:
                stats.skipped += 1
                continue
            batch.setdefault(ds_id, []).append((r.time, r.value))
        if batch:
            stats.sent += sender.send(batch)
            stats.batches += 1
        sim = nxt
        if on_batch is not None:
            on_batch(stats, sim)
    sender.close()
    return stats

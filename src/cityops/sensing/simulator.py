"""Station simulator: realistic, deterministic series for the demo and the benchmarks.

Generators are pure functions of time (and a seed), so a replay gives the same values:

* **Tide** — semi-diurnal: the principal lunar M2 (12.42 h) and solar S2 (12.00 h) constituents, whose beat
  gives the spring–neap cycle (14.77 days). Water level = station datum offset + seasonal river stage
  (higher in the flood season, Sep–Nov) + tide.
* **Salinity** — intrusion up the Vàm Cỏ: sea salinity decays exponentially with distance from the sea,
  the intrusion length grows in the dry season (Feb–May peak, strongest around early April), and the
  flood tide pushes it up (tidal modulation, lagging the water level by ~1 h).
* **Air quality** — PM2.5 (and PM10 ≈ 1.6 × PM2.5) with morning (≈ 07:30) and evening (≈ 18:30) rush-hour
  peaks, a midday low (mixing layer), and higher values in the dry season.
* **Traffic** — counts per vehicle class with rush hours (07:00, 17:30 local time), low nights, lighter
  weekends; QL1 carries more than QL62; mean speed falls as flow rises.

Times are UTC inside; daily profiles use Vietnamese local time (UTC+7). Noise is reproducible: a
function of (seed, station, property, minute).

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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

M2_HOURS = 12.4206012
S2_HOURS = 12.0
LOCAL_OFFSET = timedelta(hours=7)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A demo station: where it is and what it measures (sectors declare these)."""

    code: str
    name: str
    kind: str  # water | air | traffic
    lat: float
    lon: float
    properties: tuple[str, ...]
    interval_s: int = 300
    area_name: str | None = None  # current commune/ward it lies in, for the area link
    river: str | None = None
    road: str | None = None
    distance_to_sea_km: float | None = None  # along the river, for salinity intrusion
    datum: str | None = None  # water level reference, e.g. "Hòn Dấu"
    alarm_levels: Mapping[str, float] = field(default_factory=dict)  # water level alarm I/II/III (m)
    tide_amplitude_m: float = 1.0
    tide_phase_h: float = 0.0  # lag of the tide behind the river mouth
    traffic_scale: float = 1.0
    approximate: bool = True  # coordinates and levels are demo values


# ------------------------------------------------------------------------------------------- helpers


def _hours(t: datetime) -> float:
    return (t - EPOCH).total_seconds() / 3600.0


def local_hour(t: datetime) -> float:
    """Hour of day in Vietnam (UTC+7) as a fraction, 0 ≤ h < 24."""
    lt = t.astimezone(UTC) + LOCAL_OFFSET
    return lt.hour + lt.minute / 60 + lt.second / 3600


def noise(seed: int, *key: object, t: datetime, sigma: float = 1.0) -> float:
    """Reproducible Gaussian noise for (seed, key…, minute of ``t``)."""
    minute = int((t - EPOCH).total_seconds() // 60)
    text = "|".join(str(k) for k in (seed, *key, minute))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big")).gauss(0.0, sigma)


def dry_season(t: datetime) -> float:
    """0 (wet season, around early October) … 1 (peak of the dry season, around early April)."""
    doy = t.timetuple().tm_yday
    return 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 95) / 365.25)


def _gauss(x: float, mu: float, sigma: float) -> float:
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2)


# ---------------------------------------------------------------------------------------- generators


def tide(t: datetime, *, amplitude: float = 1.0, phase_h: float = 0.0) -> float:
    """Tidal height (m) around mean sea level: M2 + S2 (S2 ≈ 0.46 × M2 as at the Soài Rạp mouth)."""
    h = _hours(t) - phase_h
    return amplitude * (math.cos(2 * math.pi * h / M2_HOURS) + 0.46 * math.cos(2 * math.pi * h / S2_HOURS))


def water_level(t: datetime, station: StationSpec, seed: int = 0) -> float:
    """Water level (m, station datum): seasonal river stage + tide + a little noise."""
    flood = 1.0 - dry_season(t)  # flood season when the dry season is lowest
    stage = 0.1 + 0.45 * flood
    value = stage + tide(t, amplitude=station.tide_amplitude_m, phase_h=station.tide_phase_h)
    return round(value + noise(seed, station.code, "wl", t=t, sigma=0.02), 3)


def salinity(t: datetime, station: StationSpec, seed: int = 0) -> float:
    """Salinity (g/L ≡ ‰): exponential decay with distance; longer intrusion in the dry season; tidal push."""
    distance = station.distance_to_sea_km or 0.0
    dry = dry_season(t)
    intrusion_km = 6.0 + 26.0 * dry**1.5
    mean = 25.0 * math.exp(-distance / intrusion_km)
    lagged = tide(t - timedelta(hours=1), amplitude=1.0, phase_h=station.tide_phase_h) / 1.46
    value = 0.1 + mean * (1.0 + 0.35 * lagged)
    value *= 1.0 + noise(seed, station.code, "sal", t=t, sigma=0.03)
    return round(max(value, 0.05), 3)


def conductivity(salinity_g_l: float) -> float:
    """Electrical conductivity (mS/cm) from salinity, the usual practical approximation S ≈ 0.64 × EC."""
    return round(salinity_g_l / 0.64 + 0.1, 3)


def pm25(t: datetime, station: StationSpec, seed: int = 0) -> float:
    """PM2.5 (µg/m³): rush-hour peaks, midday low, dry-season high."""
    h = local_hour(t)
    profile = (
        18.0
        + 22.0 * _gauss(h, 7.5, 1.3)
        + 28.0 * _gauss(h, 18.75, 1.8)
        + 10.0 * _gauss(h, 22.5, 2.0)  # evening cooking and a shallow night layer
        - 6.0 * _gauss(h, 13.0, 2.0)
    )
    value = profile * (0.65 + 0.75 * dry_season(t))
    value *= 1.0 + noise(seed, station.code, "pm", t=t, sigma=0.08)
    return round(max(value, 2.0), 1)


def _traffic_profile(t: datetime) -> float:
    h = local_hour(t)
    weekday = (t + LOCAL_OFFSET).weekday()
    base = 0.12 + 0.55 * _gauss(h, 12.5, 5.0)  # daytime plateau
    rush = 0.9 * _gauss(h, 7.0, 1.0) + 1.0 * _gauss(h, 17.5, 1.2)
    factor = 0.75 if weekday >= 5 else 1.0
    return (base + rush * (0.6 if weekday >= 5 else 1.0)) * factor


TRAFFIC_PEAK: dict[str, float] = {"traffic_motorbike": 4200.0, "traffic_car": 900.0, "traffic_heavy": 520.0}


def traffic_count(t: datetime, station: StationSpec, vehicle_class: str, seed: int = 0) -> float:
    """Vehicles per hour of one class (``traffic_motorbike``, ``traffic_car``, ``traffic_heavy``)."""
    peak = TRAFFIC_PEAK[vehicle_class] * station.traffic_scale
    heavy_night = 1.8 if vehicle_class == "traffic_heavy" and not 5 <= local_hour(t) < 22 else 1.0
    value = peak * _traffic_profile(t) / 1.6 * heavy_night
    value *= 1.0 + noise(seed, station.code, vehicle_class, t=t, sigma=0.06)
    return float(max(round(value), 0))


def mean_speed(t: datetime, station: StationSpec, seed: int = 0) -> float:
    """Mean speed (km/h) falling with load (a simple speed–flow relation)."""
    load = _traffic_profile(t) / 1.6
    value = 62.0 - 30.0 * min(load, 1.2) + noise(seed, station.code, "speed", t=t, sigma=2.0)
    return round(max(value, 5.0), 1)


def value_of(code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
    """The simulated value of property ``code`` at ``station`` at ``t`` (None if not simulated)."""
    generators: dict[str, Callable[[], float]] = {
        "water_level": lambda: water_level(t, station, seed),
        "salinity": lambda: salinity(t, station, seed),
        "conductivity": lambda: conductivity(salinity(t, station, seed)),
        "water_temperature": lambda: round(
            29.0 + 1.5 * math.sin(2 * math.pi * (local_hour(t) - 9) / 24) + 1.5 * dry_season(t), 2
        ),
        "pm25": lambda: pm25(t, station, seed),
        "pm10": lambda: round(pm25(t, station, seed) * 1.6 + 4.0, 1),
        "mean_speed": lambda: mean_speed(t, station, seed),
    }
    if code in TRAFFIC_PEAK:
        return traffic_count(t, station, code, seed)
    gen = generators.get(code)
    return gen() if gen else None


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
            v = value_of(code, t, st, seed)
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

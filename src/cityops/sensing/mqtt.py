"""MQTT: devices publish observations through the broker; subscribers receive new Observations.

One client per cityops node (``settings.mqtt_client_id``) connects to the broker (``settings.mqtt_url``) with
MQTT 5, a persistent session (clean start off, a long session expiry) and QoS 1 subscriptions, so the broker
keeps what devices publish while cityops is down and delivers it on reconnect. It listens to:

``v1.1/Datastreams(<id>)/Observations`` (and ``v1.1/Observations`` with a ``Datastream`` in the body)
    An Observation in SensorThings JSON, created exactly as an STA POST
    (:func:`cityops.sensing.sta_api.create_at_path`): deduplicated on (datastream, phenomenonTime), so a QoS 1
    redelivery never makes a second row. As in FROST, STA messages carry no credentials: **the broker's ACL
    is the guard** (grant ``write`` on ``v1.1/#`` only to trusted gateways). Such messages may only create
    Observations, never other entities. An Observation without ``phenomenonTime`` gets the time it
    arrived (see "Redelivery" below).
``cityops/v1/devices/<api key>/telemetry``
    For cheap loggers that know no ids: ``{"ts": <epoch ms | ISO 8601 with offset>, "values": {"<name>": v}}``
    or a list of those (``ts`` omitted = now). The key must be a usable ``ingest`` API key bound to a Thing;
    each name is matched to a Datastream of that Thing by its name, else by its ObservedProperty's code
    (``salinity``, ``pm25``). Unknown names are logged and counted, the known ones are stored. The key
    is a secret in the topic name: let devices only *write* their own topic (Mosquitto ``pattern write
    cityops/v1/devices/%u/telemetry`` with the key as username) and only cityops read ``cityops/v1/devices/#``.

Every new Observation (whatever the intake: HTTP, MQTT, simulator) is published, rendered as in STA (with
``@iot.id``), to ``v1.1/Datastreams(<id>)/Observations`` and ``v1.1/Observations``, driven by the
``observations.created`` bus event (durable consumer ``mqtt-publish``), not by intake. Loops are avoided
twice: the subscription uses MQTT 5 *no local* (the broker never returns our own publications), and a
message that already has an ``@iot.id`` is an entity notification (of any cityops node) and never ingested.

A message is acknowledged (PUBACK) only after its database transaction committed, so an acknowledged
message is never lost. The client is paho-mqtt (MQTT 5, manual acknowledgement), driven by the asyncio
event loop through paho's external-loop API: what it receives is queued, and the messages that arrived
together (up to ``MAX_BATCH``) are handled as one batch —
plain Observations validated one by one and the valid ones stored in one transaction, the others one
transaction each — and their PUBACKs go out after the commits.

Outcomes (``cityops_mqtt_messages_total{kind, outcome}``): ``stored``; bad messages (invalid JSON, unknown
datastream, wrong types, refused key) are ``invalid``/``rejected``/``unknown_topic``, logged and acknowledged
(a redelivery would fail the same way), and never spoil the batch they came in. A failure of cityops itself
(an exception while storing) is ``error``: if a whole batch fails, its messages are stored one by one, so
one bad apple does not hold back the others; a message that still fails stays unacknowledged while the
others are acknowledged, and the bridge reconnects (with back-off) so the broker delivers it again. When
the first few of a batch all fail (the database is down or locked), the rest are left untried for that
redelivery: ``deferred``, not ``error``, so the error count is the number of failed attempts. After
``settings.mqtt_max_attempts`` failed deliveries of the same message (counted in memory by topic and
payload) it is parked in the ``mqtt_dead_letters`` table (:mod:`cityops.sensing.mqtt_deadletter`) and
acknowledged: ``dead_letter``. A table rather than a dead-letter topic because parking must be as durable
as storing and must fail exactly when storing cannot work: while the database is down nothing can be
parked, so an outage never diverts traffic to the dead letters (a topic would take it all, and Mosquitto
drops QoS 1 messages on a topic nobody subscribes to).

Redelivery: storage deduplicates on (datastream, phenomenonTime), so a redelivered message with a time of
its own never makes a second row. A message without one (an STA Observation without ``phenomenonTime``,
device readings without ``ts``) gets the server time (as OGC 18-088 asks) — a second delivery would get
another. The broker resends an unacknowledged message with the DUP flag and its original packet id, and
reuses a packet id only after the message that had it was acknowledged; so the bridge remembers, per packet
id, the (topic, payload) hash and the time it gave the last time-less message, and a DUP delivery of the
same topic and payload gets that same time and is recognised as a duplicate. This holds while the process
lives: after a cityops crash or restart (or when another worker takes the subscription over) the times are
forgotten, and a time-less message that was committed but not yet acknowledged at the crash is stored a
second time. Devices should send ``phenomenonTime``/``ts``.

Several API workers on one node share ``mqtt_client_id``: the worker holding an exclusive lock on
``<data_dir>/mqtt-<client id>.lock`` subscribes with it; the others connect publish-only (their own
client id, clean session) and take the subscription over when the holder stops. Give each node its
own client id.

Scaling out (a *share group*, ``mqtt_share_group``):
every process subscribes to ``$share/<group>/<topic>`` (MQTT 5 shared subscriptions, Mosquitto ≥ 2), and
the broker hands each message to one member of the group, so N processes (``cityops serve --workers N``,
on one node or many) split the messages. Each process takes a *slot*: the lowest ``k`` whose lock
``<data_dir>/mqtt-<client id>[-k].lock`` is free, and subscribes as ``<client id>`` (slot 0) or
``<client id>-<k>``, with a persistent session, so its id is stable across restarts. Mosquitto keeps
routing a share of the messages to the session of a member that is away (crashed), and delivers them
when the slot is taken again. A member that stops cleanly therefore first unsubscribes (slot 0 excepted:
it keeps receiving everything while the whole group is down) and works off what the broker already sent it.
MQTT 5 forbids *no local* on a shared subscription, so the group also receives cityops' own notifications;
they carry ``@iot.id`` and are acknowledged as ``echo`` without being stored. Without no local to keep,
members connect with MQTT 3.1.1 (``SHARED_V311``), which paho decodes at half the cost of MQTT 5; their
in-flight window is then the broker's ``max_inflight_messages``.

Broker limits matter under load (docs/deployment.md, "Mosquitto"): Mosquitto drops QoS 1 messages for
a client beyond ``max_queued_messages`` (default 1000); the bridge lets up to ``RECEIVE_MAXIMUM`` messages
be in flight to it (MQTT 5 Receive Maximum, which Mosquitto honours for MQTT 5 clients instead of its
``max_inflight_messages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple, TypeVar, cast
from urllib.parse import unquote, urlparse

import orjson
from paho.mqtt.matcher import MQTTMatcher
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.sensing import mqtt_deadletter  # noqa: F401  (its table joins the metadata with the bridge)
from cityops.sensing.observation_events import SUBJECT, read_created
from cityops.urls import configured_base

if TYPE_CHECKING:
    from cityops.events.bus import Event, EventBus, Subscription
    from cityops.identity.policy import Principal
    from cityops.settings import Settings

log = logging.getLogger("cityops.sensing.mqtt")

STA_ROOT = "v1.1/"
DEVICE_TOPIC = "cityops/v1/devices/+/telemetry"
PUBLISH_DURABLE = "mqtt-publish"
SESSION_EXPIRY_S = 7 * 86400  # how long the broker keeps our session (and queued messages) while we are away
MAX_DEVICE_ITEMS = 1000
_DEVICE_RE = re.compile(r"^cityops/v1/devices/([^/]+)/telemetry$")
_STA_PATH_RE = re.compile(r"^(?:[A-Za-z]+\(\d+\)/)?Observations$")
ROLE_RETRY_S = 5.0  # how often a publish-only worker checks whether it may take the subscription
MAX_BATCH = 2000  # messages stored in one transaction at most
RECEIVE_MAXIMUM = 20000  # unacknowledged messages the broker may send us (MQTT 5 Receive Maximum)
MAX_TRACKED = 100_000  # failed messages whose delivery attempts are counted, at most
GIVE_UP_AFTER = 3  # messages failing one by one, none succeeding, before the rest of a batch waits
PUBLISH_IN_FLIGHT = 20  # our unacknowledged notifications at most (Mosquitto's default Receive Maximum)
READ_BURST = 2000  # packets paho reads per readiness of the socket before the event loop runs other work
READ_CHUNK = 1 << 16  # bytes read from the broker's socket at once
# In a share group, connect with MQTT 3.1.1: paho decodes MQTT 5 properties on every packet received (half its
# cost per message, measured), and what MQTT 5 gave the single subscriber does not apply there: no local
# is forbidden on shared subscriptions, and the in-flight window is then the broker's
# max_inflight_messages (Mosquitto's default 20 is too small: docs/deployment.md) instead of our Receive
# Maximum. Sessions then last until the broker's persistent_client_expiration instead of SESSION_EXPIRY_S.
SHARED_V311 = True
MAX_SLOTS = 64  # subscribing processes per node (client ids <client id>, <client id>-1, …) at most
DRAIN_IDLE_S = 0.5  # a member leaving the share group stops once nothing arrived for this long …
DRAIN_MAX_S = 10.0  # … or after this long at most
_SIMPLE_STA_RE = re.compile(r"^Datastreams\((\d+)\)/Observations$")
_DEEP_KEYS = {"FeatureOfInterest", "Datastream", "MultiDatastream"}


_T = TypeVar("_T")
# Outcomes that leave a message unacknowledged, for the broker to deliver again after a reconnect.
_UNSETTLED = frozenset({"error", "deferred"})


class BadMessage(Exception):
    """A message that can never be stored (it is counted, logged and acknowledged)."""

    def __init__(self, outcome: str, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class MqttMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "cityops_mqtt_messages_total",
            "MQTT messages received, by kind (sta, device, other) and outcome (stored, echo, invalid, "
            "rejected, unknown_topic, dead_letter; error: storing failed, deferred: not tried as storing "
            "kept failing; both stay unacknowledged and are delivered again).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.unknown_values = Counter(
            "cityops_mqtt_unknown_values_total",
            "Values in device telemetry whose name matches no Datastream of the device's Thing.",
            registry=registry,
        )
        self.published = Counter(
            "cityops_mqtt_published_total",
            "Observation notifications published to MQTT subscribers.",
            registry=registry,
        )


def broker_principal() -> Principal:
    """Who writes what arrives on the STA topics: the broker's ACL vouched for the publisher, so an
    ingest principal that may add Observations to any Thing (and nothing else: see :func:`handle_sta`)."""
    from cityops.identity.models import ApiScope
    from cityops.identity.policy import Principal, PrincipalKind

    return Principal(kind=PrincipalKind.API_KEY, scopes=frozenset({ApiScope.INGEST}), label="mqtt:broker")


def parse_json(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise BadMessage("invalid", f"not valid JSON: {exc}") from None


def handle_sta(session: Session, path: str, data: Any) -> int:
    """Create the Observation ``data`` (parsed JSON) of a message on ``v1.1/<path>``; returns its id. The
    caller commits."""
    from cityops.sensing.sta_api import create_at_path, writer_for

    if not _STA_PATH_RE.match(path):
        raise BadMessage("rejected", f"MQTT may only create Observations, not publish to {path!r}")
    if not isinstance(data, dict):
        raise BadMessage("invalid", "an Observation must be a JSON object")
    try:
        et, row = create_at_path(session, path, data, writer_for(session, broker_principal()))
    except ApiError as exc:
        if exc.status >= 500:
            raise
        raise BadMessage("rejected", exc.message) from None
    if et.name != "Observation":  # pragma: no cover - the path pattern only allows Observations
        raise BadMessage("rejected", "MQTT may only create Observations")
    return int(row.id)


def parse_ts(value: Any, now: datetime | None = None) -> datetime:
    """``ts`` of device telemetry: epoch milliseconds (as ThingsBoard) or ISO 8601 with an offset; missing:
    ``now`` (default the current time)."""
    if value is None:
        return now or utcnow()
    if isinstance(value, bool):
        raise BadMessage("invalid", "ts must be epoch milliseconds or an ISO 8601 time")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise BadMessage("invalid", f"ts {value!r} is out of range") from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadMessage("invalid", f"ts {value!r} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise BadMessage("invalid", "ts needs a time zone offset (or Z)")
        return moment.astimezone(UTC)
    raise BadMessage("invalid", "ts must be epoch milliseconds or an ISO 8601 time")


def device_streams(session: Session, thing_id: int) -> dict[str, int]:
    """Name → Datastream id for a Thing: datastream names first, then observed-property codes."""
    from cityops.sensing.models import Datastream, ObservedProperty

    rows = session.execute(
        select(Datastream.id, Datastream.name, ObservedProperty.properties)
        .join(ObservedProperty, ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.thing_id == thing_id)
        .order_by(Datastream.id)
    ).all()
    by_code: dict[str, list[int]] = {}
    for ds_id, _name, props in rows:
        code = (props or {}).get("code")
        if isinstance(code, str):
            by_code.setdefault(code, []).append(ds_id)
    out = {code: ids[0] for code, ids in by_code.items() if len(ids) == 1}  # an ambiguous code maps nothing
    out.update({name: ds_id for ds_id, name, _props in rows})
    return out


def handle_device(
    session: Session, key: str, payload: bytes, now: datetime | None = None
) -> tuple[int, list[str]]:
    """Store device telemetry; returns (rows stored or already there, unknown names). Readings without
    ``ts`` get ``now`` (default the current time). The caller commits."""
    from cityops.identity.deps import principal_for_api_key
    from cityops.identity.models import ApiScope
    from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
    from cityops.sensing.sta_api import writer_for

    principal = principal_for_api_key(session, unquote(key))
    if principal is None or ApiScope.INGEST not in principal.scopes:
        raise BadMessage("rejected", "the device key is unknown, revoked, expired or not an ingest key")
    if principal.thing_id is None:
        raise BadMessage("rejected", "the device key is not bound to a Thing")
    data = parse_json(payload)
    items = data if isinstance(data, list) else [data]
    if not items or len(items) > MAX_DEVICE_ITEMS:
        raise BadMessage("invalid", f"send 1 to {MAX_DEVICE_ITEMS} readings per message")
    streams = device_streams(session, principal.thing_id)
    rows: list[ObservationIn] = []
    unknown: list[str] = []
    for item in items:
        if not isinstance(item, dict) or set(item) - {"ts", "values"}:
            raise BadMessage("invalid", 'each reading is {"ts": ..., "values": {...}}')
        values = item.get("values")
        if not isinstance(values, dict) or not values:
            raise BadMessage("invalid", "values must be a non-empty object of name: value")
        moment = parse_ts(item.get("ts"), now)
        for name, value in values.items():
            if isinstance(value, dict | list):
                raise BadMessage("invalid", f"the value of {name!r} must be a number, string or boolean")
            ds_id = streams.get(name)
            if ds_id is None:
                unknown.append(name)
                continue
            rows.append(ObservationIn(datastream_id=ds_id, phenomenon_time=moment, result=value))
    if rows:
        writer_for(session, principal).check(principal.thing_id)
        try:
            ingest_observations(session, rows)
        except IngestError as exc:
            raise BadMessage("rejected", exc.message) from None
    return len(rows), unknown


def render_observations(session: Session, base: str, ids: Sequence[int]) -> list[tuple[int, bytes]]:
    """(datastream id, STA JSON) of the Observations ``ids``, in id order; ids gone meanwhile are skipped."""
    from cityops.sensing.models import Observation
    from cityops.sensing.odata import QueryOptions
    from cityops.sensing.sta_entities import ENTITIES
    from cityops.sensing.sta_query import Context, render

    et = ENTITIES["Observation"]
    ctx = Context(session, base)
    opts = QueryOptions()
    table = Observation.__table__
    out: list[tuple[int, bytes]] = []
    ordered = sorted(ids)
    for start in range(0, len(ordered), 1000):
        chunk = ordered[start : start + 1000]
        # The ids of one batch are usually consecutive: a range is cheaper to look up than a long IN list.
        where = (
            table.c.id.between(chunk[0], chunk[-1])
            if chunk[-1] - chunk[0] + 1 == len(set(chunk))
            else table.c.id.in_(chunk)
        )
        # Plain rows, not ORM objects: the renderer reads the same attributes, without the identity map.
        rows = session.execute(select(table).where(where).order_by(table.c.id))
        for row in rows:
            if row.datastream_id is not None:
                out.append((row.datastream_id, orjson.dumps(render(ctx, et, row, opts))))
    return out


def broker_address(url: str) -> tuple[str, int, str | None, str | None, bool]:
    """(host, port, username, password, tls) of ``mqtt://user:pass@host:port`` (``mqtts://`` for TLS)."""
    parsed = urlparse(url)
    if parsed.scheme not in {"mqtt", "mqtts", "tcp", "ssl"} or not parsed.hostname:
        raise ValueError(f"MQTT URL {url!r}: use mqtt://host:port or mqtts://host:port")
    tls = parsed.scheme in {"mqtts", "ssl"}
    port = parsed.port or (8883 if tls else 1883)
    user = unquote(parsed.username) if parsed.username else None
    password = unquote(parsed.password) if parsed.password else None
    return parsed.hostname, port, user, password, tls


def share_group(settings: Settings) -> str | None:
    """The share group ingest subscribes in (``settings.mqtt_share_group``); None: one subscriber per node."""
    group = settings.mqtt_share_group or None
    if group is not None and (set(group) & set("/+#") or not group.isprintable()):
        raise ValueError(f"MQTT share group {group!r}: no '/', '+', '#' or control characters")
    return group


class _NoFilteredCallbacks(MQTTMatcher):
    """Stands in for paho's trie of per-topic callbacks, which we never register: paho walks it for every
    message received (10% of the bridge's CPU in a profile) only to find nothing. Topics are routed by
    :meth:`MqttBridge.ingest_many` instead."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def iter_match(self, topic: str) -> Iterator[Any]:
        return iter(())


class _RememberedGets:
    """A session whose ``get`` answers a repeated lookup from what it returned before."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._got: dict[tuple[type[Any], Any], Any] = {}

    def get(self, entity: type[Any], ident: Any) -> Any:
        key = (entity, ident)
        if key not in self._got:
            self._got[key] = self._session.get(entity, ident)
        return self._got[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _BufferedSocket:
    """paho's socket, read and written in large chunks. paho reads each packet with three ``recv`` calls
    (type, length, rest) and writes each PUBACK with a ``send`` of its own: under load those system calls
    were over a tenth of the bridge's CPU. Here reads are served from one ``recv`` of up to
    ``READ_CHUNK`` bytes, and writes are collected and sent together by :meth:`flush` once paho has
    written what it had queued. Only the transport changes: paho still encodes and decodes every packet."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._in = b""
        self._pos = 0
        self._out = bytearray()

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._in):
            self._in, self._pos = self._sock.recv(max(size, READ_CHUNK)), 0  # may raise BlockingIOError
            if not self._in:
                return b""  # closed by the broker
        start, self._pos = self._pos, min(self._pos + size, len(self._in))
        return self._in[start : self._pos]

    def pending(self) -> int:
        """Bytes read but not yet taken (TLS: with those decrypted but not yet read)."""
        inner = getattr(self._sock, "pending", None)
        return len(self._in) - self._pos + (inner() if inner is not None else 0)

    def send(self, data: bytes | bytearray) -> int:
        self._out += data
        return len(data)

    def flush(self) -> bool:
        """Send what was collected, as far as the socket takes it; returns whether all went. Raises
        ``OSError`` when the connection is gone."""
        import ssl

        while self._out:
            try:
                sent = self._sock.send(self._out)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                return False
            del self._out[:sent]
        return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()  # paho closes right after writing DISCONNECT
        self._sock.close()

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def setblocking(self, flag: bool) -> None:
        self._sock.setblocking(flag)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class MqttConnectionError(Exception):
    """The connection to the broker failed or was lost, or the broker refused a request."""


class Incoming(NamedTuple):
    """A received PUBLISH. ``packet_id`` is 0 for QoS 0; ``dup`` is the DUP flag (a resend by the broker)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool


class _Connection:
    """One paho-mqtt client (MQTT 5) driven by the asyncio event loop through paho's external-loop API
    (``loop_read``/``loop_write``/``loop_misc`` on socket readiness), so callbacks run on the loop's thread
    and received messages are queued for :meth:`batch` without crossing threads. Any failure raises
    :class:`MqttConnectionError` and ends the connection (reconnect with a new one)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        username: str | None,
        password: str | None,
        clean_start: bool,
        session_expiry: int,
        tls: bool,
        keepalive: int = 30,
        v5: bool = True,
    ) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.host, self.port, self.clean_start, self.keepalive = host, port, clean_start, keepalive
        self.session_expiry = session_expiry
        self.session_present = False
        self.loop = asyncio.get_running_loop()
        self.v5 = v5
        if v5:
            client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        else:
            client = paho.Client(
                CallbackAPIVersion.VERSION2,
                client_id=client_id,
                protocol=paho.MQTTv311,
                clean_session=clean_start,
            )
        if username is not None:
            client.username_pw_set(username, password)
        if tls:
            client.tls_set()
        client.max_inflight_messages_set(PUBLISH_IN_FLIGHT)
        client.manual_ack_set(True)  # PUBACK only once the message is committed (see MqttBridge._handle)
        if hasattr(client, "_on_message_filtered"):  # paho's internal; only skipped work if it moves
            client._on_message_filtered = _NoFilteredCallbacks()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        client.on_socket_close = self._on_socket_close
        self.client = client
        self._incoming: deque[Incoming] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._connack: asyncio.Future[None] = self.loop.create_future()
        self._subacks: dict[int, asyncio.Future[list[Any]]] = {}  # SUBACKs and UNSUBACKs awaited
        self.last_message = 0.0  # time.monotonic() (paho's clock) of the last message received
        self._unacked: set[int] = set()  # our QoS 1 publications awaiting their PUBACK
        self._refused = 0
        self._published: asyncio.Future[None] | None = None
        self._sending = asyncio.Lock()
        self._packets = 0  # packets handled by a callback, to know when a read made progress
        self._sock: Any = None
        self._misc: asyncio.Task[None] | None = None
        self._error: MqttConnectionError | None = None

    # --- connection -------------------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = RECEIVE_MAXIMUM

        def connect() -> None:
            if self.v5:
                self.client.connect(
                    self.host, self.port, self.keepalive, clean_start=self.clean_start, properties=props
                )
            else:  # the session (clean or not) was chosen with the client
                self.client.connect(self.host, self.port, self.keepalive)
            sock = self.client.socket()
            if self._error is not None and sock is not None:  # closed (the bridge stopped) meanwhile
                sock.close()

        try:
            # paho's connect resolves, opens (TLS handshake included) and writes CONNECT, blocking: off the loop.
            await asyncio.to_thread(connect)
        except (OSError, ValueError) as exc:
            raise MqttConnectionError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        raw = self.client.socket()
        if raw is None:
            raise MqttConnectionError("the connection closed at once")
        self._sock = raw
        if getattr(self.client, "_sock", None) is raw:  # paho's internal; unbuffered if it ever moves
            self._sock = self.client._sock = _BufferedSocket(raw)
        self.loop.add_reader(self._sock, self._readable)
        self.client.on_socket_register_write = self._want_write
        self.client.on_socket_unregister_write = self._written
        if self.client.want_write():
            self.loop.add_writer(self._sock, self._writable)
        self._misc = asyncio.create_task(self._housekeeping(), name="mqtt-keepalive")
        await self._wait(self._connack, timeout)

    async def _housekeeping(self) -> None:
        """paho's keep-alive (PINGREQ, and dropping a broker that stopped answering)."""
        while self._error is None:
            await asyncio.sleep(1.0)
            self.client.loop_misc()

    def close(self) -> None:
        """Send what is queued (PUBACKs first) and DISCONNECT, then close; pending operations fail."""
        client = self.client
        if self._error is None and self._sock is not None:
            with contextlib.suppress(Exception):
                client.disconnect()
                client.loop_write()  # paho closes the socket once DISCONNECT is written
        self._fail(MqttConnectionError("closed"))
        sock = client.socket()
        if sock is not None:  # DISCONNECT could not be written at once: close anyway
            self._detach(sock)
            with contextlib.suppress(OSError):
                sock.close()

    @property
    def connected(self) -> bool:
        return self._error is None and self._sock is not None

    # --- requests ---------------------------------------------------------------------------------

    async def subscribe(self, filters: list[tuple[str, int, bool]], timeout: float = 10.0) -> None:
        """Subscribe to (topic filter, QoS, no local); raises if the broker refuses any."""
        from paho.mqtt.subscribeoptions import SubscribeOptions

        self._check()
        if self.v5:
            rc, mid = self.client.subscribe(
                [(t, SubscribeOptions(qos=q, noLocal=nl)) for t, q, nl in filters]
            )
        else:  # MQTT 3.1.1 has no subscription options (no local is MQTT 5's)
            rc, mid = self.client.subscribe([(t, q) for t, q, _nl in filters])
        if rc or mid is None:
            raise MqttConnectionError(f"cannot subscribe (paho error {rc})")
        reply: asyncio.Future[list[Any]] = self.loop.create_future()
        self._subacks[mid] = reply
        codes = await self._wait(reply, timeout)
        refused = [f[0] for f, code in zip(filters, codes, strict=False) if code.is_failure]
        if refused:
            raise MqttConnectionError(f"the broker refused the subscriptions {refused}")

    async def unsubscribe(self, topics: list[str], timeout: float = 10.0) -> None:
        """Unsubscribe from topic filters (those not subscribed are no error)."""
        self._check()
        rc, mid = self.client.unsubscribe(topics)
        if rc or mid is None:
            raise MqttConnectionError(f"cannot unsubscribe (paho error {rc})")
        reply: asyncio.Future[list[Any]] = self.loop.create_future()
        self._subacks[mid] = reply
        await self._wait(reply, timeout)

    @property
    def queued(self) -> int:
        """Messages received and not yet taken by :meth:`batch`."""
        return len(self._incoming)

    async def publish_many(self, messages: list[tuple[str, bytes]], timeout: float = 30.0) -> None:
        """Publish at QoS 1 (paho keeps as many in flight as the broker allows); returns once all are
        acknowledged."""
        async with self._sending:
            self._check()
            self._refused = 0
            for topic, payload in messages:
                info = self.client.publish(topic, payload, qos=1)
                if info.rc:
                    raise MqttConnectionError(f"cannot publish (paho error {info.rc})")
                self._unacked.add(info.mid)
            if self._unacked:
                self._published = self.loop.create_future()
                try:
                    await asyncio.wait_for(asyncio.shield(self._published), timeout)
                except TimeoutError:
                    error = MqttConnectionError("the broker did not acknowledge publications in time")
                    self._fail(error)
                    raise error from None
            if self._refused:
                raise MqttConnectionError(f"the broker refused {self._refused} publications")

    def ack(self, packet_ids: list[int]) -> None:
        """PUBACK (success) for the QoS 1 messages ``packet_ids``."""
        self._check()
        for mid in packet_ids:
            self.client.ack(mid, 1)

    async def batch(self, limit: int) -> list[Incoming]:
        """Wait for at least one message; return up to ``limit`` of those received so far."""
        while not self._incoming:
            self._check()
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        incoming = self._incoming
        return [incoming.popleft() for _ in range(min(limit, len(incoming)))]

    # --- paho callbacks (on the loop's thread) ----------------------------------------------------

    def _readable(self) -> None:
        # paho reads one packet per loop_read: read on while packets come, up to a burst, so a stream
        # of messages costs one wake-up per burst (the reader is level-triggered: the rest comes next).
        client = self.client
        for _ in range(READ_BURST):
            before = self._packets
            if client.loop_read() or self._error is not None:
                break
            if self._packets == before:
                pending = getattr(self._sock, "pending", None)  # TLS: bytes decrypted but not yet read
                if pending is None or not pending():
                    break
        else:
            # The burst ended with whole packets still buffered: the socket may not signal them again.
            if self._error is None and isinstance(self._sock, _BufferedSocket) and self._sock.pending():
                self.loop.call_soon(self._readable)
        if self._incoming and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _want_write(self, _c: Any, _u: Any, sock: Any) -> None:
        self.loop.add_writer(sock, self._writable)

    def _written(self, _c: Any, _u: Any, sock: Any) -> None:
        self.loop.remove_writer(sock)

    def _writable(self) -> None:
        if self.client.loop_write():
            self._fail(MqttConnectionError("connection lost while writing"))
            return
        sock = self._sock
        if isinstance(sock, _BufferedSocket):
            try:
                done = sock.flush()
            except OSError as exc:
                self._fail(MqttConnectionError(f"connection lost while writing: {exc}"))
                return
            if not done:  # the kernel's buffer is full: on when the socket takes more
                self.loop.add_writer(sock, self._writable)

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: Any, properties: Any) -> None:
        self._packets += 1
        if reason.is_failure:
            self._fail(MqttConnectionError(f"the broker refused the connection ({reason})"))
            return
        self.session_present = bool(flags.session_present)
        # The broker's Receive Maximum bounds our unacknowledged QoS 1 publications (MQTT 5, 3.2.2.3.3);
        # paho cannot lower its window on an open connection, so a broker granting less is only reported.
        granted = getattr(properties, "ReceiveMaximum", 65535) if properties is not None else 65535
        if int(granted) < PUBLISH_IN_FLIGHT:
            log.warning("MQTT broker grants a Receive Maximum below ours", extra={"granted": granted})
        if not self._connack.done():
            self._connack.set_result(None)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, codes: list[Any], _p: Any) -> None:
        self._packets += 1
        reply = self._subacks.pop(mid, None)
        if reply is not None and not reply.done():
            reply.set_result(codes)

    def _on_unsubscribe(self, _c: Any, _u: Any, mid: int, codes: Any, _p: Any) -> None:
        self._on_subscribe(_c, _u, mid, codes, _p)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        self._packets += 1
        if mid in self._unacked:
            self._unacked.discard(mid)
            if reason.is_failure:
                self._refused += 1
            if not self._unacked and self._published is not None and not self._published.done():
                self._published.set_result(None)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        self._packets += 1
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = "\ufffd"  # matches no subscription of ours: refused as unknown_topic, and acknowledged
        self._incoming.append(Incoming(topic, msg.payload, msg.qos, msg.mid, msg.dup))
        self.last_message = msg.timestamp

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        self._fail(MqttConnectionError(f"connection lost ({reason})"))

    def _on_socket_close(self, _c: Any, _u: Any, sock: Any) -> None:
        self._detach(sock)
        self._fail(MqttConnectionError("connection closed"))

    # --- internals ----------------------------------------------------------------------------------

    def _detach(self, sock: Any) -> None:
        with contextlib.suppress(Exception):
            self.loop.remove_reader(sock)
            self.loop.remove_writer(sock)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    async def _wait(self, future: asyncio.Future[_T], timeout: float) -> _T:
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            raise MqttConnectionError("the broker did not answer in time") from None

    def _fail(self, error: MqttConnectionError) -> None:
        if self._error is not None:
            return
        self._error = error
        futures: list[asyncio.Future[Any]] = [self._connack, *self._subacks.values()]
        if self._published is not None:
            futures.append(self._published)
        for future in futures:
            if not future.done():
                future.set_exception(error)
                future.exception()  # whoever waits gets it; nobody waiting is no "never retrieved" warning
        self._subacks.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._misc is not None and self._misc is not asyncio.current_task():
            self._misc.cancel()


class MqttBridge:
    """The MQTT client of one cityops node: ingest from the broker, notifications to it."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        registry: CollectorRegistry,
        bus: EventBus | None = None,
    ) -> None:
        if not settings.mqtt_url:
            raise ValueError("MQTT is disabled (settings.mqtt_url is empty)")
        self.host, self.port, self.username, self.password, self.tls = broker_address(settings.mqtt_url)
        self.client_id = settings.mqtt_client_id
        self.prefix = settings.mqtt_topic_prefix
        self.publish_entities = settings.mqtt_publish_entities
        self.max_attempts = settings.mqtt_max_attempts
        self.sta_base = configured_base(settings) + "/sta/v1.1"
        self.sessions = sessions
        self.bus = bus
        self.metrics = MqttMetrics(registry)
        self.connected = asyncio.Event()
        self.connections = 0  # successful (re)connections since start
        self.subscriber = False  # this process holds the node's subscription (see _take_subscriber_role)
        self.share_group = share_group(settings)
        self.slot: int | None = None  # which of the node's subscriber client ids this process holds
        self.lock_path: Path | None = settings.data_dir / f"mqtt-{self.client_id}.lock"
        self._busy = False  # a batch is being stored
        self._previous_group: str | None = None  # the share group of the slot's last holder
        self._lock_file: IO[str] | None = None
        self._client: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._stopping = False
        # Deliveries that failed for a reason of cityops', by message (hash of topic and payload).
        self._attempts: dict[int, int] = {}
        # Packet id -> (hash of topic and payload, the time given) of the last message without a time of
        # its own: a redelivery (DUP) of the same message gets the same time, so it is recognised.
        self._given_times: dict[int, tuple[int, datetime]] = {}

    # --- life cycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="cityops-mqtt")
        if self.bus is not None and self.publish_entities:
            self._subscription = await self.bus.subscribe(SUBJECT, PUBLISH_DURABLE, self._on_created)

    async def stop(self) -> None:
        self._stopping = True
        if self._subscription is not None:
            await self._subscription.stop()
            self._subscription = None
        await self._leave_share_group()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.connected.clear()
        self._release_subscriber_role()

    def stopping(self) -> bool:
        return self._stopping

    async def _leave_share_group(self) -> None:
        """A member of a share group (but slot 0, which keeps the group's messages while all are down)
        unsubscribes, so the broker routes no more to its session, and stores what it was already sent."""
        client = self._client
        if self.share_group is None or not self.slot or client is None or not client.connected:
            return
        try:
            await client.unsubscribe([topic for topic, _qos, _nl in self._filters()])
        except MqttConnectionError:
            return  # what is still in its session waits for the slot's next holder
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_MAX_S
        while loop.time() < deadline and client.connected:
            idle = time.monotonic() - client.last_message
            if not self._busy and not client.queued and idle >= DRAIN_IDLE_S:
                break
            await asyncio.sleep(0.05)

    def _topics(self) -> list[str]:
        """The topic filters ingest subscribes to (before any share group)."""
        return [f"{self.prefix}{STA_ROOT}+/Observations", f"{self.prefix}{STA_ROOT}Observations",
                f"{self.prefix}{DEVICE_TOPIC}"]  # fmt: skip

    def _filters(self) -> list[tuple[str, int, bool]]:
        """(topic filter, QoS, no local) of the subscription: plain, or in the share group (where MQTT 5
        forbids no local)."""
        topics = self._topics()
        if self.share_group is None:
            return [(t, 1, True) for t in topics]
        return [(f"$share/{self.share_group}/{t}", 1, False) for t in topics]

    def _other_filters(self) -> list[str]:
        """The filters an earlier run of this slot may have left in its persistent session in another mode
        (plain, or another share group, as its lock file recorded): subscribed both ways, the slot would
        receive messages twice (and, with a group nobody else is in, hold messages nobody takes)."""
        topics = self._topics()
        out = [] if self.share_group is None else topics
        if self._previous_group not in (None, self.share_group):
            out += [f"$share/{self._previous_group}/{t}" for t in topics]
        return out

    def _slot_client_id(self, slot: int) -> str:
        return self.client_id if slot == 0 else f"{self.client_id}-{slot}"

    def _make_client(self, subscriber: bool) -> _Connection:
        """The subscriber: the client id of its slot with a persistent session. Other worker processes of
        the node: a publish-only client with a clean session of its own."""
        return _Connection(
            self.host,
            self.port,
            self._slot_client_id(self.slot or 0) if subscriber else f"{self.client_id}-pub-{os.getpid()}",
            username=self.username,
            password=self.password,
            clean_start=not subscriber,
            session_expiry=SESSION_EXPIRY_S if subscriber else 0,
            tls=self.tls,
            v5=self.share_group is None or not SHARED_V311,
        )

    def _take_subscriber_role(self) -> bool:
        """One process per node subscribes (several API workers share the client id otherwise and would
        take the session from each other): the one holding an exclusive lock on a file in the data dir."""
        if self._lock_file is not None:
            return True
        if self.lock_path is None:
            self.slot = 0
            return True
        import fcntl

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        # In a share group every process subscribes, each with a slot (a client id) of its own.
        for slot in range(MAX_SLOTS if self.share_group is not None else 1):
            path = (
                self.lock_path
                if slot == 0
                else self.lock_path.with_name(f"mqtt-{self.client_id}-{slot}.lock")
            )
            handle = path.open("a+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            # The lock file records the share group this slot's session subscribed in (empty: plain).
            handle.seek(0)
            self._previous_group = handle.read().strip() or None
            handle.seek(0)
            handle.truncate()
            handle.write(self.share_group or "")
            handle.flush()
            self._lock_file, self.slot = handle, slot
            return True
        return False

    def _release_subscriber_role(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the file releases the lock
            self._lock_file = None
            self.slot = None

    async def _run(self) -> None:
        delay = 0.5
        while not self._stopping:
            subscriber = self._take_subscriber_role()
            client = self._make_client(subscriber)
            try:
                await client.connect()
                self._client = client
                if subscriber:
                    await client.subscribe(self._filters())
                    stale = self._other_filters() if client.session_present else []
                    if stale:
                        await client.unsubscribe(stale)
                self.connections += 1
                self.subscriber = subscriber
                self.connected.set()
                log.info(
                    "MQTT connected",
                    extra={
                        "host": self.host,
                        "client_id": self.client_id,
                        "subscriber": subscriber,
                        "slot": self.slot,
                        "share_group": self.share_group,
                    },
                )
                if not subscriber:
                    delay = 0.5
                    # Publish notifications only; take over the subscription when its holder stops.
                    while not self._take_subscriber_role():
                        if not client.connected:
                            raise MqttConnectionError("connection lost")
                        await asyncio.sleep(ROLE_RETRY_S)
                    continue
                while True:
                    batch = await client.batch(MAX_BATCH)
                    self._busy = True
                    try:
                        if await self._handle(client, batch):
                            delay = 0.5
                    finally:
                        self._busy = False
            except MqttConnectionError as exc:
                if self.stopping():
                    break
                log.warning("MQTT connection lost, reconnecting", extra={"error": str(exc), "in_s": delay})
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("MQTT message handling failed; reconnecting so the broker redelivers")
            finally:
                self.connected.clear()
                self._client = None
                client.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # --- intake ----------------------------------------------------------------------------------

    async def _handle(self, client: _Connection, batch: list[Incoming]) -> bool:
        """Store the messages that arrived together, then acknowledge those stored, refused or parked (after
        the commits); returns whether all were. A message cityops failed to store stays unacknowledged and
        the connection is dropped, so the broker delivers it again (after a back-off)."""
        outcomes = await self.ingest_many(batch)
        client.ack(
            [
                m.packet_id
                for m, (_k, outcome) in zip(batch, outcomes, strict=True)
                if m.qos and outcome not in _UNSETTLED
            ]
        )
        unsettled = sum(outcome in _UNSETTLED for _kind, outcome in outcomes)
        if unsettled:
            raise RuntimeError(
                f"could not store {unsettled} MQTT messages; reconnecting for their redelivery"
            )
        return True

    async def ingest(self, topic: str, payload: bytes) -> tuple[str, str]:
        """Store one message (as QoS 0); returns (kind, outcome). Counted and logged; never raises for bad input."""
        return (await self.ingest_many([Incoming(topic, payload, 0, 0, False)]))[0]

    def _given_time(self, m: Incoming) -> datetime:
        """The time for a message that brings none: now, or for a redelivery (DUP, same packet id, same
        topic and payload) of a message already given one, that same time."""
        if not m.qos:
            return utcnow()
        digest = hash((m.topic, m.payload))
        seen = self._given_times.get(m.packet_id)
        if m.dup and seen is not None and seen[0] == digest:
            return seen[1]
        moment = utcnow()
        self._given_times[m.packet_id] = (digest, moment)
        return moment

    async def ingest_many(self, batch: Sequence[Incoming]) -> list[tuple[str, str]]:
        """Store messages; returns (kind, outcome) per message, counted and logged.

        Plain Observations for ``Datastreams(<id>)/Observations`` (the common case) are validated one by
        one and stored as one batch in one transaction; the others (device telemetry, deep inserts,
        other paths) one transaction each.
        """
        results: list[tuple[str, str] | None] = [None] * len(batch)
        kinds = ["other"] * len(batch)
        errors: dict[int, BadMessage] = {}
        failed: dict[int, str] = {}
        fast: list[tuple[int, int, dict[str, Any]]] = []
        slow: list[tuple[int, Any]] = []
        regroup: dict[int, tuple[int, int, dict[str, Any]]] = {}  # of a failed batch, by message index
        given_times = self._given_times
        for i, m in enumerate(batch):
            if given_times and m.qos and not m.dup:
                # the broker reuses a packet id only after the previous message with it was acknowledged
                given_times.pop(m.packet_id, None)
            try:
                topic = m.topic
                if not topic.startswith(self.prefix):
                    raise BadMessage("unknown_topic", "topic outside the configured prefix")
                path = topic[len(self.prefix) :]
                if path.startswith(STA_ROOT):
                    kinds[i] = "sta"
                    data = parse_json(m.payload)
                    if isinstance(data, dict):
                        if "@iot.id" in data:
                            results[i] = ("sta", "echo")
                            continue
                        if "phenomenonTime" not in data:
                            data["phenomenonTime"] = self._given_time(m).isoformat()
                        simple = _SIMPLE_STA_RE.match(path[len(STA_ROOT) :])
                        if simple is not None and not _DEEP_KEYS & data.keys():
                            fast.append((i, int(simple.group(1)), data))
                            continue
                    slow.append((i, data))
                elif _DEVICE_RE.match(path) is not None:
                    kinds[i] = "device"
                    slow.append((i, None))
                else:
                    raise BadMessage("unknown_topic", "no handler for this topic")
            except BadMessage as exc:
                errors[i] = exc
        if fast:
            try:
                refused = await asyncio.to_thread(self._store_sta_batch, fast)
            except Exception as exc:
                if len(fast) == 1:
                    failed[fast[0][0]] = repr(exc)
                    log.exception("MQTT observation could not be stored")
                else:
                    # One bad apple (or the database): store them one by one, so the others go through.
                    log.warning(
                        "MQTT batch failed, storing its messages one by one", extra={"error": repr(exc)}
                    )
                    slow.extend((i, data) for i, _ds, data in fast)
                    regroup = {item[0]: item for item in fast}
            else:
                errors.update(refused)
                for i, _ds, _data in fast:
                    if i not in refused:
                        results[i] = ("sta", "stored")
        succeeded = regrouped = False
        for k, (i, data) in enumerate(slow):
            if results[i] is not None or i in errors:
                continue  # stored or refused with the rest of its batch, regrouped below
            m = batch[i]
            path = m.topic[len(self.prefix) :]
            if not succeeded and len(failed) >= GIVE_UP_AFTER:
                # Nothing goes through (the database is down, most likely): leave the rest for the next
                # delivery instead of waiting for each to fail; untried, they are not counted as attempts
                # (nor as errors: ``deferred``, so the error count says how many failed).
                results[i] = (kinds[i], "deferred")
                continue
            try:
                if kinds[i] == "sta":
                    await asyncio.to_thread(self._store_sta, path[len(STA_ROOT) :], data)
                else:
                    match = _DEVICE_RE.match(path)
                    assert match is not None
                    now = self._given_time(m)
                    unknown = await asyncio.to_thread(self._store_device, match.group(1), m.payload, now)
                    if unknown:
                        self.metrics.unknown_values.inc(len(unknown))
                        log.warning(
                            "device telemetry names match no datastream",
                            extra={"names": sorted(set(unknown))},
                        )
                results[i] = (kinds[i], "stored")
                if regroup and not regrouped:  # the first success after the batch failed
                    regrouped = True
                    await self._regroup(
                        [regroup[j] for j, _d in slow[k + 1 :] if j in regroup], errors, results
                    )
                succeeded = True
            except BadMessage as exc:
                errors[i] = exc
                succeeded = True  # refused, not failed: keep trying the others
            except Exception as exc:
                log.exception("MQTT message could not be stored", extra={"topic": _safe_topic(m.topic)})
                failed[i] = repr(exc)
        if failed:
            parked = await self._give_up(batch, failed)
            for i in failed:
                results[i] = (kinds[i], "dead_letter" if i in parked else "error")
        for i, refusal in errors.items():
            results[i] = (kinds[i], refusal.outcome)
            log.warning(
                "MQTT message refused",
                extra={
                    "topic": _safe_topic(batch[i].topic),
                    "outcome": refusal.outcome,
                    "error": str(refusal),
                },
            )
        if self._attempts:
            for i, result in enumerate(results):
                if result is not None and result[1] not in _UNSETTLED:  # stored, refused or parked
                    self._attempts.pop(hash((batch[i].topic, batch[i].payload)), None)
        out: list[tuple[str, str]] = []
        counts: dict[tuple[str, str], int] = {}
        for result in results:
            assert result is not None
            counts[result] = counts.get(result, 0) + 1
            out.append(result)
        for labels, n in counts.items():
            self.metrics.messages.labels(*labels).inc(n)
        return out

    async def _regroup(
        self,
        rest: list[tuple[int, int, dict[str, Any]]],
        errors: dict[int, BadMessage],
        results: list[tuple[str, str] | None],
    ) -> None:
        """A message of a failed batch was stored alone, so storing works (a lock or an outage passed, or
        the failure was one bad apple): the rest of the batch goes back into one transaction instead of one
        each (at SQLite's pace of single commits, a batch of 2,000 took half a minute after a lock). If that
        fails too (the bad apple is among them), one by one."""
        if not rest:
            return
        try:
            refused = await asyncio.to_thread(self._store_sta_batch, rest)
        except Exception as exc:
            log.warning("MQTT batch failed again, storing one by one", extra={"error": repr(exc)})
            return
        errors.update(refused)
        for i, _ds, _data in rest:
            if i not in refused:
                results[i] = ("sta", "stored")

    async def _give_up(self, batch: Sequence[Incoming], failed: dict[int, str]) -> set[int]:
        """Count a failed delivery of each message in ``failed``; park those that failed
        ``max_attempts`` times. Returns the indexes parked (they may be acknowledged)."""
        if len(self._attempts) > MAX_TRACKED:  # a long outage: forget the oldest counts
            for key in list(self._attempts)[: MAX_TRACKED // 2]:
                del self._attempts[key]
        due: list[int] = []
        for i in failed:
            key = hash((batch[i].topic, batch[i].payload))
            self._attempts[key] = self._attempts.get(key, 0) + 1
            if batch[i].qos == 0 or self._attempts[key] >= self.max_attempts:
                due.append(i)
        if not due:
            return set()
        rows = [
            (
                batch[i].topic,
                batch[i].payload,
                self._attempts[hash((batch[i].topic, batch[i].payload))],
                failed[i],
            )
            for i in due
        ]
        try:
            await asyncio.to_thread(self._park, rows)
        except Exception:
            log.exception("MQTT messages could not be parked either; they stay with the broker")
            return set()
        for i in due:
            log.error(
                "MQTT message parked in mqtt_dead_letters",
                extra={"topic": _safe_topic(batch[i].topic), "error": failed[i]},
            )
        return set(due)

    def _park(self, rows: list[tuple[str, bytes, int, str]]) -> None:
        from cityops.sensing.mqtt_deadletter import park

        with self.sessions() as session:
            park(session, self.client_id, rows)
            session.commit()

    def _store_sta_batch(self, fast: list[tuple[int, int, dict[str, Any]]]) -> dict[int, BadMessage]:
        """Validate plain Observations one by one and store the valid ones in one batch; returns the refused."""
        from cityops.sensing.ingest import ingest_observations
        from cityops.sensing.models import Datastream
        from cityops.sensing.sta_api import writer_for

        refused: dict[int, BadMessage] = {}
        with self.sessions() as session:
            writer = writer_for(session, broker_principal())
            # The policy decision depends only on the Thing: taken once per Thing of the batch.
            allowed: set[int | None] = set()
            check = writer.check

            def check_once(thing_id: int | None) -> None:
                if thing_id not in allowed:
                    check(thing_id)
                    allowed.add(thing_id)

            writer.check = check_once
            # Each message looks its Datastream up again; answered from a dict instead of the session's
            # identity map (whose get() was 14% of the bridge's CPU), as nothing changes them meanwhile.
            writer.session = cast(Session, _RememberedGets(session))
            # Holding the Datastreams keeps them in the session's (weak) identity map, so the
            # validation of each message finds its Datastream there instead of querying it again.
            loaded: dict[int, Datastream | None] = {}
            rows = []
            for i, ds_id, data in fast:
                if ds_id not in loaded:
                    loaded[ds_id] = session.get(Datastream, ds_id)
                if loaded[ds_id] is None:
                    refused[i] = BadMessage("rejected", f"no Datastream with id {ds_id}")
                    continue
                try:
                    row, _values = writer.observation_in(data, {"datastream_id": ds_id})
                except ApiError as exc:
                    if exc.status >= 500:
                        raise
                    refused[i] = BadMessage("rejected", exc.message)
                    continue
                if row is not None:
                    rows.append(row)
            if rows:
                ingest_observations(session, rows)
            session.commit()
        return refused

    def _store_sta(self, path: str, data: Any) -> None:
        with self.sessions() as session:
            handle_sta(session, path, data)
            session.commit()

    def _store_device(self, key: str, payload: bytes, now: datetime) -> list[str]:
        with self.sessions() as session:
            _count, unknown = handle_device(session, key, payload, now)
            session.commit()
            return unknown

    # --- notifications ---------------------------------------------------------------------------

    async def _on_created(self, event: Event) -> None:
        ids = [int(i) for i in read_created(event.payload).ids if i is not None]
        if not ids:
            return
        messages = await asyncio.to_thread(self._render, ids)
        client = await self._wait_connected(timeout=5.0)
        await client.publish_many(
            [
                (topic, body)
                for ds_id, body in messages
                for topic in (
                    f"{self.prefix}{STA_ROOT}Datastreams({ds_id})/Observations",
                    f"{self.prefix}{STA_ROOT}Observations",
                )
            ]
        )
        self.metrics.published.inc(len(messages))

    def _render(self, ids: list[int]) -> list[tuple[int, bytes]]:
        with self.sessions() as session:
            return render_observations(session, self.sta_base, ids)

    async def _wait_connected(self, timeout: float) -> _Connection:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        client = self._client
        if client is None or not self.connected.is_set():
            raise RuntimeError("MQTT broker not connected; the event will be redelivered")
        return client


def _safe_topic(topic: str) -> str:
    """The topic for logs, with a device key cut to its public prefix."""
    return _KEY_IN_TOPIC.sub(r"\1\2…", topic)


_KEY_IN_TOPIC = re.compile(r"(cityops/v1/devices/)([^/]{0,12})[^/]*")


def install(app: Any, settings: Settings) -> None:
    """Run a bridge with the app when ``settings.mqtt_url`` is set (``app.state.mqtt`` once started).

    The bridge is built at start-up, when the metrics registry and the bus are in place."""
    if not settings.mqtt_url:
        return
    broker_address(settings.mqtt_url)  # a malformed URL fails at app creation, not in the background

    async def start(app: Any) -> None:
        metrics = getattr(app.state, "metrics", None)
        registry = metrics.registry if metrics is not None else CollectorRegistry()
        bridge = MqttBridge(settings, app.state.sessions, registry, getattr(app.state, "bus", None))
        app.state.mqtt = bridge
        await bridge.start()

    async def stop(app: Any) -> None:
        bridge = getattr(app.state, "mqtt", None)
        if bridge is not None:
            await bridge.stop()

    app.state.async_startup.append(start)
    app.state.async_shutdown.append(stop)

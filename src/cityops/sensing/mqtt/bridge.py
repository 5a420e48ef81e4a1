"""The MQTT client of one cityops node (:class:`MqttBridge`): connecting and reconnecting with back-off,
taking the subscriber role or a share-group slot, storing the messages that arrived together as a batch and
acknowledging them after the commits, counting failed deliveries and parking messages in the dead letters,
and :func:`install` to run it with the app. The whole design is in the package docstring
(:mod:`cityops.sensing.mqtt`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.sensing.mqtt.deadletter import park
from cityops.sensing.mqtt.intake import (
    DEEP_KEYS,
    DEVICE_RE,
    SIMPLE_STA_RE,
    STA_ROOT,
    BadMessage,
    handle_device,
    handle_sta,
    parse_json,
    safe_topic,
    store_sta_batch,
    topic_id,
)
from cityops.sensing.mqtt.publisher import Publisher
from cityops.sensing.mqtt.subscription import SubscriberSlot, share_group, stale_filters, subscription_filters
from cityops.sensing.mqtt.transport import Connection, Incoming, MqttConnectionError, broker_address
from cityops.sensing.observation_events import SUBJECT
from cityops.urls import configured_base

if TYPE_CHECKING:
    from cityops.events.bus import EventBus, Subscription
    from cityops.settings import Settings

log = logging.getLogger("cityops.sensing.mqtt")  # the logger name operators filter on


PUBLISH_DURABLE = "mqtt-publish"


SESSION_EXPIRY_S = 7 * 86400  # how long the broker keeps our session (and queued messages) while we are away


ROLE_RETRY_S = 5.0  # how often a publish-only worker checks whether it may take the subscription


MAX_BATCH = 2000  # messages stored in one transaction at most


MAX_TRACKED = 100_000  # failed messages whose delivery attempts are counted, at most


GIVE_UP_AFTER = 3  # messages failing one by one, none succeeding, before the rest of a batch waits


# In a share group, connect with MQTT 3.1.1: paho decodes MQTT 5 properties on every packet received (half its
# cost per message, measured), and what MQTT 5 gave the single subscriber does not apply there: no local
# is forbidden on shared subscriptions, and the in-flight window is then the broker's
# max_inflight_messages (Mosquitto's default 20 is too small: docs/deployment.md) instead of our Receive
# Maximum. Sessions then last until the broker's persistent_client_expiration instead of SESSION_EXPIRY_S.
SHARED_V311 = True


DRAIN_IDLE_S = 0.5  # a member leaving the share group stops once nothing arrived for this long …


DRAIN_MAX_S = 10.0  # … or after this long at most


# Refusals for the message's content, parked at once in mqtt_dead_letters (not unknown topics or echoes).
PARKED_REFUSALS = frozenset({"invalid", "rejected"})


# Outcomes that leave a message unacknowledged, for the broker to deliver again after a reconnect.
_UNSETTLED = frozenset({"error", "deferred"})


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
        self.mqtt_v5 = settings.mqtt_protocol == "5"  # NATS' MQTT listener speaks 3.1.1 only
        self.max_attempts = settings.mqtt_max_attempts
        self.sta_base = configured_base(settings) + "/sta/v1.1"
        self.sessions = sessions
        self.bus = bus
        self.metrics = MqttMetrics(registry)
        self.publisher = Publisher(
            sessions, self.sta_base, self.prefix, self.metrics.published, self._wait_connected
        )
        self.connected = asyncio.Event()
        self.connections = 0  # successful (re)connections since start
        self.subscriber = False  # this process holds the node's subscription (see _take_subscriber_role)
        self.share_group = share_group(settings)
        self.slot: int | None = None  # which of the node's subscriber client ids this process holds
        self.lock_path: Path | None = settings.data_dir / f"mqtt-{self.client_id}.lock"
        self._busy = False  # a batch is being stored
        self._previous_group: str | None = None  # the share group of the slot's last holder
        self._slot_lock: SubscriberSlot | None = None
        self._client: Connection | None = None
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
            self._subscription = await self.bus.subscribe(SUBJECT, PUBLISH_DURABLE, self.publisher.on_created)

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

    def _filters(self) -> list[tuple[str, int, bool]]:
        return subscription_filters(self.prefix, self.share_group)

    def _other_filters(self) -> list[str]:
        return stale_filters(self.prefix, self.share_group, self._previous_group)

    def _slot_client_id(self, slot: int) -> str:
        return self.client_id if slot == 0 else f"{self.client_id}-{slot}"

    def _make_client(self, subscriber: bool) -> Connection:
        """The subscriber: the client id of its slot with a persistent session. Other worker processes of
        the node: a publish-only client with a clean session of its own."""
        return Connection(
            self.host,
            self.port,
            self._slot_client_id(self.slot or 0) if subscriber else f"{self.client_id}-pub-{os.getpid()}",
            username=self.username,
            password=self.password,
            clean_start=not subscriber,
            session_expiry=SESSION_EXPIRY_S if subscriber else 0,
            tls=self.tls,
            v5=self.mqtt_v5 and (self.share_group is None or not SHARED_V311),
        )

    def _take_subscriber_role(self) -> bool:
        """One process per node subscribes (several API workers share the client id otherwise and would
        take the session from each other); in a share group each process holds a slot of its own."""
        if self._slot_lock is not None:
            return True
        if self.lock_path is None:
            self.slot = 0
            return True
        held = SubscriberSlot.take(self.lock_path, self.client_id, self.share_group)
        if held is None:
            return False
        self._slot_lock, self.slot, self._previous_group = held, held.slot, held.previous_group
        return True

    def _release_subscriber_role(self) -> None:
        if self._slot_lock is not None:
            self._slot_lock.release()
            self._slot_lock = None
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

    async def _handle(self, client: Connection, batch: list[Incoming]) -> bool:
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
                        simple = SIMPLE_STA_RE.match(path[len(STA_ROOT) :])
                        if simple is not None and not DEEP_KEYS & data.keys():
                            fast.append((i, topic_id(simple.group(1)), data))
                            continue
                    slow.append((i, data))
                elif DEVICE_RE.match(path) is not None:
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
                    match = DEVICE_RE.match(path)
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
                log.exception("MQTT message could not be stored", extra={"topic": safe_topic(m.topic)})
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
                    "topic": safe_topic(batch[i].topic),
                    "outcome": refusal.outcome,
                    "error": str(refusal),
                },
            )
        await self._park_refused(batch, errors)
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
                extra={"topic": safe_topic(batch[i].topic), "error": failed[i]},
            )
        return set(due)

    async def _park_refused(self, batch: Sequence[Incoming], errors: dict[int, BadMessage]) -> None:
        """Park the messages refused for their content at once (attempts 0: never tried to store), as HTTP
        answers 422 and the client keeps its body: an operator sees topic, payload and why, and nothing is
        retried (#21). Messages on topics cityops does not handle are only counted."""
        rows = [
            (batch[i].topic, batch[i].payload, 0, f"{refusal.outcome}: {refusal}")
            for i, refusal in errors.items()
            if refusal.outcome in PARKED_REFUSALS
        ]
        if not rows:
            return
        try:
            await asyncio.to_thread(self._park, rows)
        except Exception:
            log.exception("refused MQTT messages could not be parked; they are acknowledged all the same")

    def _park(self, rows: list[tuple[str, bytes, int, str]]) -> None:
        with self.sessions() as session:
            park(session, self.client_id, rows)
            session.commit()

    def _store_sta_batch(self, fast: list[tuple[int, int, dict[str, Any]]]) -> dict[int, BadMessage]:
        """Store plain Observations in one transaction (:func:`~.intake.store_sta_batch`); returns the refused."""
        with self.sessions() as session:
            refused = store_sta_batch(session, fast)
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

    async def _wait_connected(self, timeout: float) -> Connection:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        client = self._client
        if client is None or not self.connected.is_set():
            raise RuntimeError("MQTT broker not connected; the event will be redelivered")
        return client


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

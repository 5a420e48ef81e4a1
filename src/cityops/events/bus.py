"""The event bus: what happened, told once to every consumer that wants to know.

Writers never publish directly: they call :func:`cityops.events.outbox.emit` inside their transaction and
the outbox relay publishes after commit. Consumers (rules, roll-ups, notifications, MQTT re-publish)
``subscribe`` with a *durable* name, so a consumer that stops and starts again resumes where it stopped.

Delivery is at least once: a handler that raises gets the same event again (up to ``max_deliver`` times,
then the event is logged as dead-lettered and the consumer moves on). Handlers must therefore be
idempotent, keyed on :attr:`Event.id`. Events of one subject reach one consumer in publish order.

Subjects are dot-separated tokens (``cases.created``). Filters use NATS wildcards: ``*`` matches exactly
one token, ``>`` (last token only) matches one or more tokens.

Two implementations honour the same contract (``tests/events/test_bus_contract.py``):
:class:`MemoryBus` (in-process, the default) and :class:`cityops.events.jetstream.NatsBus`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from cityops.clock import utcnow

if TYPE_CHECKING:
    from cityops.settings import Settings

log = logging.getLogger("cityops.events")

_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
_DURABLE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEAD_LETTER_KEEP = 1000


def validate_subject(subject: str) -> str:
    """Return ``subject`` if it is a concrete subject (tokens of letters, digits, ``_`` and ``-``)."""
    tokens = subject.split(".")
    if not subject or not all(_TOKEN.match(t) for t in tokens):
        raise ValueError(f"invalid event subject {subject!r}: use dot-separated tokens like 'cases.created'")
    return subject


def validate_filter(subject_filter: str) -> str:
    """Return ``subject_filter`` if it is a valid subject filter (tokens, ``*``, and a final ``>``)."""
    tokens = subject_filter.split(".")
    ok = bool(subject_filter)
    for i, part in enumerate(tokens):
        if part == ">":
            ok = ok and i == len(tokens) - 1
        elif part != "*":
            ok = ok and bool(_TOKEN.match(part))
    if not ok:
        raise ValueError(f"invalid subject filter {subject_filter!r}: tokens, '*' or a final '>'")
    return subject_filter


def validate_durable(durable: str) -> str:
    if not _DURABLE.match(durable):
        raise ValueError(f"invalid durable name {durable!r}: 1-64 letters, digits, '_' or '-'")
    return durable


def subject_matches(subject_filter: str, subject: str) -> bool:
    """NATS wildcard matching: ``*`` is one token, a final ``>`` is one or more tokens."""
    pattern = subject_filter.split(".")
    tokens = subject.split(".")
    for i, want in enumerate(pattern):
        if want == ">":
            return len(tokens) > i
        if i >= len(tokens):
            return False
        if want != "*" and want != tokens[i]:
            return False
    return len(tokens) == len(pattern)


class Event:
    """Something that happened: ``subject`` says what, ``payload`` the facts, ``id`` makes it idempotent.

    An event read back from the outbox carries its payload as the JSON text stored there (``raw``): the
    relay and the NATS bus pass that text on as it is, and it is parsed only when a consumer first reads
    :attr:`payload` (once per event; consumers share the parsed dict and must not change it).
    """

    __slots__ = ("_payload", "_raw", "id", "occurred_at", "subject")

    subject: str
    id: str
    occurred_at: datetime
    _payload: dict[str, Any] | None
    _raw: bytes | None

    def __init__(
        self,
        subject: str,
        payload: dict[str, Any] | None = None,
        id: str | None = None,
        occurred_at: datetime | None = None,
        *,
        raw: bytes | str | None = None,
    ) -> None:
        validate_subject(subject)
        when = occurred_at if occurred_at is not None else utcnow()
        if when.tzinfo is None:
            raise ValueError("Event.occurred_at must be an aware (UTC) datetime")
        if payload is not None and raw is not None:
            raise ValueError("give an Event its payload or its raw JSON text, not both")
        init = object.__setattr__
        init(self, "subject", subject)
        init(self, "id", id if id is not None else str(uuid.uuid4()))
        init(self, "occurred_at", when)
        init(self, "_payload", payload if payload is not None or raw is not None else {})
        init(self, "_raw", raw.encode() if isinstance(raw, str) else raw)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Event is immutable: cannot set {name!r}")

    @property
    def payload(self) -> dict[str, Any]:
        """The payload, parsed from the raw JSON text on first use."""
        payload = self._payload
        if payload is None:
            data = orjson.loads(self._raw or b"{}")
            payload = data if isinstance(data, dict) else {}
            object.__setattr__(self, "_payload", payload)
        return payload

    def payload_json(self) -> bytes:
        """The payload as JSON text (the stored text itself when the event came from the outbox)."""
        if self._raw is not None:
            return self._raw
        return orjson.dumps(self._payload, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return (self.subject, self.id, self.occurred_at, self.payload) == (
            other.subject,
            other.id,
            other.occurred_at,
            other.payload,
        )

    def __hash__(self) -> int:
        return hash((self.subject, self.id, self.occurred_at))

    def __repr__(self) -> str:
        return f"Event(subject={self.subject!r}, id={self.id!r}, occurred_at={self.occurred_at!r})"

    def to_json(self) -> bytes:
        payload: Any = orjson.Fragment(self._raw) if self._raw is not None else self._payload
        return orjson.dumps(
            {
                "id": self.id,
                "subject": self.subject,
                "occurred_at": self.occurred_at,
                "payload": payload,
            },
            option=orjson.OPT_UTC_Z,
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Event:
        raw = orjson.loads(data)
        return cls(
            subject=raw["subject"],
            payload=raw.get("payload") or {},
            id=str(raw["id"]),
            occurred_at=datetime.fromisoformat(raw["occurred_at"]),
        )


Handler = Callable[[Event], Awaitable[None]]
PublishListener = Callable[[Event], None]
# (durable, event, outcome) with outcome "ok", "failed" (one failed delivery) or "dead_lettered".
DeliveryListener = Callable[[str, Event, str], None]


class Subscription(Protocol):
    """A running consumer; ``stop`` ends delivery but keeps the durable's position."""

    durable: str
    subject_filter: str

    async def stop(self) -> None: ...


class EventBus(Protocol):
    """The bus contract. Both implementations pass ``tests/events/test_bus_contract.py``."""

    dead_letters: deque[tuple[str, Event]]

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    async def subscribe(self, subject_filter: str, durable: str, handler: Handler) -> Subscription: ...

    def add_publish_listener(self, listener: PublishListener) -> None: ...

    def add_delivery_listener(self, listener: DeliveryListener) -> None: ...

    def is_ready(self) -> bool: ...


class BusBase:
    """What both buses share: publish listeners (metrics) and the dead-letter record."""

    def __init__(self, *, max_deliver: int) -> None:
        if max_deliver < 1:
            raise ValueError("max_deliver must be at least 1")
        self.max_deliver = max_deliver
        self.dead_letters: deque[tuple[str, Event]] = deque(maxlen=DEAD_LETTER_KEEP)
        self._listeners: list[PublishListener] = []
        self._delivery_listeners: list[DeliveryListener] = []

    def add_delivery_listener(self, listener: DeliveryListener) -> None:
        """Call ``listener(durable, event, outcome)`` after each delivery to a consumer (metrics)."""
        self._delivery_listeners.append(listener)

    def _handled(self, durable: str, event: Event, outcome: str) -> None:
        for listener in self._delivery_listeners:
            try:
                listener(durable, event, outcome)
            except Exception:
                log.exception("delivery listener failed")

    def add_publish_listener(self, listener: PublishListener) -> None:
        """Call ``listener(event)`` after every successful publish (used for the metrics counter)."""
        self._listeners.append(listener)

    def _published(self, event: Event) -> None:
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("publish listener failed")

    def _dead_letter(self, durable: str, event: Event, exc: BaseException | None) -> None:
        self.dead_letters.append((durable, event))
        self._handled(durable, event, "dead_lettered")
        log.error(
            "event dead-lettered after %d deliveries",
            self.max_deliver,
            extra={"event_id": event.id, "subject": event.subject, "durable": durable, "error": repr(exc)},
        )


class _MemoryConsumer:
    """One durable's state inside a :class:`MemoryBus`: its filter and its position in the log."""

    def __init__(self, durable: str, subject_filter: str, position: int) -> None:
        self.durable = durable
        self.subject_filter = subject_filter
        self.position = position  # absolute index of the next log entry to look at
        self.active: MemorySubscription | None = None


class MemorySubscription:
    def __init__(self, bus: MemoryBus, consumer: _MemoryConsumer, handler: Handler) -> None:
        self.bus = bus
        self.consumer = consumer
        self.durable = consumer.durable
        self.subject_filter = consumer.subject_filter
        self.handler = handler
        self._cond = bus._require_started()
        self._stopping = False
        self._delivered = False
        self._task = asyncio.create_task(self._run(), name=f"cityops-consumer-{self.durable}")

    async def _run(self) -> None:
        bus, consumer = self.bus, self.consumer
        while not self._stopping:
            event = bus._entry(consumer.position)
            if event is None:
                async with self._cond:
                    await self._cond.wait_for(
                        lambda: self._stopping or bus._entry(consumer.position) is not None
                    )
                continue
            if subject_matches(consumer.subject_filter, event.subject):
                await self._deliver(event)
                if self.stopping() and not self._delivered:
                    return  # stopped mid-retry: the event stays at the durable's position
            consumer.position += 1
            bus._trim()

    async def _deliver(self, event: Event) -> None:
        self._delivered = False
        error: BaseException | None = None
        for attempt in range(1, self.bus.max_deliver + 1):
            try:
                await self.handler(event)
                self._delivered = True
                self.bus._handled(self.durable, event, "ok")
                return
            except Exception as exc:
                error = exc
                self.bus._handled(self.durable, event, "failed")
                log.warning(
                    "event handler failed (delivery %d of %d)",
                    attempt,
                    self.bus.max_deliver,
                    extra={"event_id": event.id, "durable": self.durable, "error": repr(exc)},
                )
                if self.stopping():
                    return
                await asyncio.sleep(self.bus.redeliver_delay * attempt)
        self.bus._dead_letter(self.durable, event, error)
        self._delivered = True

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        """Stop delivering; the durable keeps its position for the next ``subscribe``."""
        self._stopping = True
        async with self._cond:
            self._cond.notify_all()
        await self._task
        if self.consumer.active is self:
            self.consumer.active = None


class MemoryBus(BusBase):
    """In-process bus: an in-memory log; each durable keeps its position there (for this process only).

    A durable created for the first time starts at the end of the log (it receives events published
    after it subscribed), like a JetStream consumer with the ``new`` deliver policy. Log entries every
    known durable has passed are dropped.
    """

    def __init__(
        self, *, max_deliver: int = 5, redeliver_delay: float = 0.01, max_log: int = 100_000
    ) -> None:
        super().__init__(max_deliver=max_deliver)
        self.redeliver_delay = redeliver_delay
        self.max_log = max_log
        self._log: deque[Event] = deque()
        self._offset = 0  # absolute index of self._log[0]
        self._consumers: dict[str, _MemoryConsumer] = {}
        self._changed: asyncio.Condition | None = None
        self._started = False

    def _entry(self, position: int) -> Event | None:
        index = position - self._offset
        return self._log[index] if 0 <= index < len(self._log) else None

    def _trim(self) -> None:
        floor = min((c.position for c in self._consumers.values()), default=self._offset + len(self._log))
        while self._log and self._offset < floor:
            self._log.popleft()
            self._offset += 1
        if len(self._log) > self.max_log:
            # A durable that stopped for good (or a handler far too slow) must not exhaust memory: the
            # oldest events are dropped for it, loudly. NatsBus keeps them on disk instead.
            drop = len(self._log) - self.max_log
            for _ in range(drop):
                self._log.popleft()
            self._offset += drop
            for consumer in self._consumers.values():
                if consumer.position < self._offset:
                    log.error(
                        "in-memory bus limit reached: durable lost %d event(s)",
                        self._offset - consumer.position,
                        extra={"durable": consumer.durable, "max_log": self.max_log},
                    )
                    consumer.position = self._offset

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        self._started = True

    def _require_started(self) -> asyncio.Condition:
        if not self._started or self._changed is None:
            raise RuntimeError("the event bus is not started")
        return self._changed

    async def close(self) -> None:
        for consumer in list(self._consumers.values()):
            if consumer.active is not None:
                await consumer.active.stop()
        self._started = False

    async def publish(self, event: Event) -> None:
        changed = self._require_started()
        self._log.append(event)
        if not self._consumers or len(self._log) > self.max_log:
            self._trim()
        async with changed:
            changed.notify_all()
        self._published(event)

    async def subscribe(self, subject_filter: str, durable: str, handler: Handler) -> Subscription:
        self._require_started()
        validate_filter(subject_filter)
        validate_durable(durable)
        consumer = self._consumers.get(durable)
        if consumer is None:
            consumer = _MemoryConsumer(durable, subject_filter, self._offset + len(self._log))
            self._consumers[durable] = consumer
        elif consumer.subject_filter != subject_filter:
            raise ValueError(
                f"durable {durable!r} already follows {consumer.subject_filter!r}, not {subject_filter!r}"
            )
        if consumer.active is not None:
            raise ValueError(f"durable {durable!r} already has an active subscription")
        sub = MemorySubscription(self, consumer, handler)
        consumer.active = sub
        return sub

    def is_ready(self) -> bool:
        return self._started


def make_bus(settings: Settings) -> EventBus:
    """The bus the settings ask for (not started: call ``await bus.start()``)."""
    from cityops.settings import BusKind

    if settings.bus is BusKind.NATS:
        from cityops.events.jetstream import NatsBus

        return NatsBus(
            url=settings.nats_url,
            stream=settings.nats_stream,
            prefix=settings.nats_subject_prefix,
            ack_wait=settings.bus_ack_wait_seconds,
            max_deliver=settings.bus_max_deliver,
            max_age_seconds=settings.nats_max_age_days * 86400,
        )
    return MemoryBus(max_deliver=settings.bus_max_deliver)

"""NATS JetStream implementation of the event bus (deployment tier 3; ``CITYOPS_BUS=nats``).

One stream (``settings.nats_stream``) holds every subject under ``<prefix>.>`` on disk. Each durable name
is a JetStream pull consumer with explicit acks, the ``new`` deliver policy (a durable created for the
first time starts with events published after it), ``ack_wait`` and ``max_deliver``: a consumer that
stops keeps its position on the server, and on restart receives everything published meanwhile.
Several processes subscribing with the same durable share its events (each event goes to one of them).

Messages are fetched one at a time and a failing handler is retried in place (up to ``max_deliver``
deliveries in all, counting the server's redeliveries after a crash) before the next one is fetched, so
events of a subject reach a consumer in order.
Publishes carry ``Nats-Msg-Id`` = event id, so the outbox relay publishing twice after a crash is
de-duplicated by the server within the stream's duplicate window.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from cityops.events.bus import (
    BusBase,
    Event,
    Handler,
    Subscription,
    validate_durable,
    validate_filter,
)

log = logging.getLogger("cityops.events")

DUPLICATE_WINDOW_SECONDS = 120.0


class NatsSubscription:
    def __init__(
        self,
        bus: NatsBus,
        psub: JetStreamContext.PullSubscription,
        subject_filter: str,
        durable: str,
        handler: Handler,
    ) -> None:
        self.bus = bus
        self.psub = psub
        self.subject_filter = subject_filter
        self.durable = durable
        self.handler = handler
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"cityops-nats-consumer-{durable}")

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                msgs = await self.psub.fetch(1, timeout=self.bus.poll_seconds)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except Exception as exc:  # disconnected, server restarting...: keep trying, never die
                if self.stopping():
                    break
                log.warning(
                    "NATS fetch failed, retrying", extra={"durable": self.durable, "error": repr(exc)}
                )
                await asyncio.sleep(min(5.0, 0.5 * (failures + 1)))
                failures += 1
                continue
            failures = 0
            for msg in msgs:
                await self._handle(msg)

    async def _handle(self, msg: Msg) -> None:
        try:
            event = Event.from_json(msg.data)
        except Exception as exc:
            log.error("undecodable event terminated", extra={"nats_subject": msg.subject, "error": repr(exc)})
            await msg.term()
            return
        # Retries happen here, in order, before the next event is fetched; a crash in between leaves the
        # event unacknowledged and the server delivers it again after ack_wait (counting that delivery).
        attempt = msg.metadata.num_delivered or 1
        while True:
            try:
                await self.handler(event)
            except Exception as exc:
                self.bus._handled(self.durable, event, "failed")
                log.warning(
                    "event handler failed (delivery %d of %d)",
                    attempt,
                    self.bus.max_deliver,
                    extra={"event_id": event.id, "durable": self.durable, "error": repr(exc)},
                )
                if attempt >= self.bus.max_deliver:
                    await msg.term()
                    self.bus._dead_letter(self.durable, event, exc)
                    return
                if self.stopping():
                    await msg.nak()  # hand it back now rather than after ack_wait
                    return
                await msg.in_progress()  # restart the ack_wait clock while we retry
                await asyncio.sleep(self.bus.redeliver_delay * attempt)
                attempt += 1
                continue
            await msg.ack()
            self.bus._handled(self.durable, event, "ok")
            return

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        """Stop fetching (after the event in hand); the durable consumer stays on the server."""
        self._stopping = True
        await self._task
        try:
            await self.psub.unsubscribe()
        except Exception as exc:  # connection already gone: nothing left to release
            log.debug("unsubscribe failed", extra={"error": repr(exc)})
        self.bus._subs.discard(self)


class NatsBus(BusBase):
    def __init__(
        self,
        *,
        url: str,
        stream: str,
        prefix: str,
        ack_wait: float = 30.0,
        max_deliver: int = 5,
        max_age_seconds: float = 7 * 86400,
        poll_seconds: float = 1.0,
        redeliver_delay: float = 0.05,
        connect_attempts: int = 3,
    ) -> None:
        super().__init__(max_deliver=max_deliver)
        self.url = url
        self.stream = stream
        self.prefix = prefix
        self.ack_wait = ack_wait
        self.max_age_seconds = max_age_seconds
        self.poll_seconds = poll_seconds
        self.redeliver_delay = redeliver_delay
        self.connect_attempts = connect_attempts
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subs: set[NatsSubscription] = set()

    # -- connection ---------------------------------------------------------------------------

    async def start(self) -> None:
        async def disconnected() -> None:
            log.warning("NATS disconnected", extra={"nats_url": self.url})

        async def reconnected() -> None:
            log.info("NATS reconnected", extra={"nats_url": self.url})

        async def error(exc: Exception) -> None:
            log.warning("NATS error", extra={"nats_url": self.url, "error": repr(exc)})

        try:
            self._nc = await nats.connect(
                self.url,
                name="cityops",
                allow_reconnect=True,
                max_reconnect_attempts=self.connect_attempts,  # fail start-up with a clear message
                reconnect_time_wait=1,
                connect_timeout=5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
        except Exception as exc:
            raise RuntimeError(f"cannot reach NATS at {self.url} (CITYOPS_NATS_URL): {exc!r}") from exc
        # Once up, never give up: reconnect for as long as it takes (the readiness probe reports it).
        self._nc.options["max_reconnect_attempts"] = -1
        self._js = self._nc.jetstream()
        await self._ensure_stream()

    async def _ensure_stream(self) -> None:
        js = self._require()
        subjects = [f"{self.prefix}.>"]
        try:
            info = await js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            config = StreamConfig(
                name=self.stream,
                subjects=subjects,
                storage=StorageType.FILE,
                max_age=self.max_age_seconds,
                duplicate_window=DUPLICATE_WINDOW_SECONDS,
            )
            # The server can answer 500 ("error creating store for stream") when it removes an empty
            # account directory while another stream is being created; that is transient, so retry.
            for attempt in range(5):
                try:
                    await js.add_stream(config)
                    return
                except nats.js.errors.ServerError:
                    if attempt == 4:
                        raise
                    log.warning("JetStream could not create stream %s yet; retrying", self.stream)
                    await asyncio.sleep(0.2 * (attempt + 1))
            return
        config = info.config
        if config.subjects != subjects or config.max_age != self.max_age_seconds:
            config.subjects = subjects
            config.max_age = self.max_age_seconds
            await js.update_stream(config)

    def _require(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("the event bus is not started")
        return self._js

    async def close(self) -> None:
        await asyncio.gather(*(sub.stop() for sub in list(self._subs)))  # each waits out one fetch
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None
        self._js = None

    def is_ready(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def delete_stream(self) -> None:
        """Remove the stream and every consumer (tests and decommissioning only)."""
        await self._require().delete_stream(self.stream)

    # -- the contract -------------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        js = self._require()
        await js.publish(
            f"{self.prefix}.{event.subject}",
            event.to_json(),
            stream=self.stream,
            headers={"Nats-Msg-Id": event.id},
        )
        self._published(event)

    async def subscribe(self, subject_filter: str, durable: str, handler: Handler) -> Subscription:
        js = self._require()
        validate_filter(subject_filter)
        validate_durable(durable)
        wire_filter = f"{self.prefix}.{subject_filter}"
        existing: Any = None
        try:
            existing = await js.consumer_info(self.stream, durable)
        except nats.js.errors.NotFoundError:
            existing = None
        if existing is not None and existing.config.filter_subject != wire_filter:
            raise ValueError(
                f"durable {durable!r} already follows {existing.config.filter_subject!r}, not {wire_filter!r}"
            )
        config = ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.NEW,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=self.max_deliver,
            filter_subject=wire_filter,
        )
        psub = await js.pull_subscribe(wire_filter, durable=durable, stream=self.stream, config=config)
        sub = NatsSubscription(self, psub, subject_filter, durable, handler)
        self._subs.add(sub)
        return sub

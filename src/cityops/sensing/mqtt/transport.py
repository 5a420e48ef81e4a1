"""The connection to the broker: one paho-mqtt client driven by the asyncio event loop through paho's
external-loop API, its socket read and written in large chunks, what it receives (:class:`Incoming`) queued
for the bridge, PUBACKs sent when the bridge says, and the broker's address parsed from the URL. No cityops
knowledge here: what messages mean is :mod:`.intake`'s, when to acknowledge them :mod:`.bridge`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from typing import Any, NamedTuple, TypeVar
from urllib.parse import unquote, urlparse

from paho.mqtt.matcher import MQTTMatcher

log = logging.getLogger("cityops.sensing.mqtt")

RECEIVE_MAXIMUM = 20000  # unacknowledged messages the broker may send us (MQTT 5 Receive Maximum)


PUBLISH_IN_FLIGHT = 20  # our unacknowledged notifications at most (Mosquitto's default Receive Maximum)


READ_BURST = 2000  # packets paho reads per readiness of the socket before the event loop runs other work


READ_CHUNK = 1 << 16  # bytes read from the broker's socket at once


_T = TypeVar("_T")


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


class _NoFilteredCallbacks(MQTTMatcher):
    """Stands in for paho's trie of per-topic callbacks, which we never register: paho walks it for every
    message received (10% of the bridge's CPU in a profile) only to find nothing. Topics are routed by
    :meth:`.bridge.MqttBridge.ingest_many` instead."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]

    def iter_match(self, topic: str) -> Iterator[Any]:
        return iter(())


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


class Connection:
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

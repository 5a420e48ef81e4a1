"""A small MQTT 5 client on an asyncio protocol, for the ingest bridge (:mod:`cityops.sensing.mqtt`).

Only what the bridge needs: CONNECT (persistent session, receive maximum), SUBSCRIBE with options
(QoS, *no local*), receiving PUBLISH in bulk, acknowledging many messages in one write, PUBLISH at QoS 0/1
(awaiting the PUBACK), keep-alive and DISCONNECT. General clients (paho, aiomqtt) spend tens of
microseconds of Python per message in generic packet objects, callbacks and per-packet socket writes; the
bridge receives tens of thousands per second, so this parses straight from the receive buffer into
:class:`Incoming` tuples and queues them for the consumer, which takes all that arrived at once.

Written from the MQTT 5.0 OASIS standard (sections 2 and 3). QoS 2, topic aliases, AUTH and will messages
are not used by cityops and not implemented; a broker never sends them to a client that does not ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import time
from collections import deque
from typing import NamedTuple, cast

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

# CONNECT properties (MQTT 5, 3.1.2.11)
_SESSION_EXPIRY = 0x11
_RECEIVE_MAXIMUM = 0x21
_SERVER_KEEP_ALIVE = 0x13
# Size of each property's value by identifier (3.1.2.11, 3.2.2.3): fixed sizes; "s" a UTF-8 string or
# binary data, "p" a string pair, "v" a variable byte integer.
_PROPERTY_SIZES: dict[int, int | str] = {
    0x01: 1, 0x02: 4, 0x03: "s", 0x08: "s", 0x09: "s", 0x0B: "v", 0x11: 4, 0x12: "s", 0x13: 2,
    0x15: "s", 0x16: "s", 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: "s", 0x1C: "s", 0x1F: "s", 0x21: 2,
    0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: "p", 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}  # fmt: skip


class MqttWireError(Exception):
    """The connection failed or was lost, or the broker refused a request."""


class Incoming(NamedTuple):
    """A received PUBLISH. ``packet_id`` is 0 for QoS 0; ``dup`` is the DUP flag (a resend by the broker)."""

    topic: str
    payload: bytes
    qos: int
    packet_id: int
    dup: bool


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int, *, v5: bool = True) -> bytes:
    """A PUBLISH packet (no properties); exposed for the benchmark's publisher."""
    body = (
        _string(topic) + (struct.pack("!H", packet_id) if qos else b"") + (b"\x00" if v5 else b"") + payload
    )
    return _packet(PUBLISH, qos << 1, body)


class _Window:
    """Publications written together: how many await their PUBACK, and a future done when none does."""

    __slots__ = ("done", "left", "refused")

    def __init__(self, left: int, done: asyncio.Future[None]) -> None:
        self.left = left
        self.refused = 0
        self.done = done


class _Protocol(asyncio.Protocol):
    def __init__(self, client: WireClient) -> None:
        self.client = client
        self.buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.client._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.client._last_received = time.monotonic()
        buf = self.buffer
        buf += data
        pos = 0
        end = len(buf)
        client = self.client
        while end - pos >= 2:
            # fixed header: type and flags, then the remaining length as a variable byte integer
            first = buf[pos]
            length = shift = 0
            i = pos + 1
            complete = False
            while i < end:
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    client._fail(MqttWireError("malformed remaining length"))
                    return
            if not complete:
                break  # the length itself is not complete yet
            if end - i < length:
                break
            kind = first >> 4
            if kind == PUBLISH:
                qos = (first >> 1) & 3
                tlen = buf[i] << 8 | buf[i + 1]
                j = i + 2 + tlen
                topic = buf[i + 2 : j].decode()
                packet_id = 0
                if qos:
                    packet_id = buf[j] << 8 | buf[j + 1]
                    j += 2
                # properties: a variable byte integer length, then the properties (skipped)
                plen = 0
                shift = 0
                while True:
                    byte = buf[j]
                    j += 1
                    plen |= (byte & 0x7F) << shift
                    if not byte & 0x80:
                        break
                    shift += 7
                j += plen
                client._incoming.append(
                    Incoming(topic, bytes(buf[j : i + length]), qos, packet_id, bool(first & 0x08))
                )
            else:
                client._control(kind, bytes(buf[i : i + length]))
            pos = i + length
        if pos:
            del buf[:pos]
        if client._incoming and client._waiter is not None and not client._waiter.done():
            client._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._fail(
            MqttWireError(f"connection lost: {exc}" if exc else "connection closed by the broker")
        )


class WireClient:
    """One MQTT 5 connection. Use :meth:`connect`, then :meth:`subscribe`, :meth:`batch`, :meth:`ack`,
    :meth:`publish`; :meth:`close` at the end. Any failure raises :class:`MqttWireError` and ends the
    connection (reconnect with a new client)."""

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        *,
        username: str | None = None,
        password: str | None = None,
        clean_start: bool = True,
        session_expiry: int = 0,
        keepalive: int = 30,
        receive_maximum: int = 65535,
        tls: bool = False,
    ) -> None:
        self.host, self.port, self.client_id = host, port, client_id
        self.username, self.password = username, password
        self.clean_start, self.session_expiry = clean_start, session_expiry
        self.keepalive, self.receive_maximum, self.tls = keepalive, receive_maximum, tls
        self.session_present = False
        self._transport: asyncio.Transport | None = None
        self._incoming: deque[Incoming] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._pending: dict[tuple[int, int], asyncio.Future[bytes]] = {}  # (packet type, id) -> reply
        self._in_flight: dict[int, _Window] = {}  # packet id of a publication -> its window
        self._next_id = 0
        self._error: MqttWireError | None = None
        self._last_received = time.monotonic()
        self._pinger: asyncio.Task[None] | None = None
        self._send_window = 65535
        self._sending = asyncio.Lock()

    # --- connection ---------------------------------------------------------------------------

    async def connect(self, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if self.tls else None
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self), self.host, self.port, ssl=context), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise MqttWireError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        flags = 0x02 if self.clean_start else 0
        payload = _string(self.client_id)
        if self.username is not None:
            flags |= 0x80
            payload += _string(self.username)
        if self.password is not None:
            flags |= 0x40
            payload += _string(self.password)
        props = bytes([_SESSION_EXPIRY]) + struct.pack("!I", self.session_expiry)
        props += bytes([_RECEIVE_MAXIMUM]) + struct.pack("!H", self.receive_maximum)
        body = _string("MQTT") + bytes([5, flags]) + struct.pack("!H", self.keepalive)
        body += _varint(len(props)) + props + payload
        reply = self._expect(CONNACK, 0)
        self._write(_packet(CONNECT, 0, body))
        data = await self._wait(reply, timeout)
        if len(data) < 2 or data[1] >= 0x80:
            reason = data[1] if len(data) > 1 else -1
            self.close()
            raise MqttWireError(f"the broker refused the connection (reason code {reason:#x})")
        self.session_present = bool(data[0] & 1)
        plen, offset = _read_varint(data, 2)
        granted = _properties(data[offset : offset + plen])
        # The broker's Receive Maximum bounds our unacknowledged QoS 1 publications (MQTT 5, 3.2.2.3.3);
        # its Server Keep Alive replaces ours.
        self._send_window = min(1000, int(granted.get(_RECEIVE_MAXIMUM, 65535)))
        self.keepalive = int(granted.get(_SERVER_KEEP_ALIVE, self.keepalive))
        if self.keepalive:
            self._pinger = asyncio.create_task(self._keep_alive(), name="mqtt-keepalive")

    async def _keep_alive(self) -> None:
        while self._error is None:
            await asyncio.sleep(self.keepalive / 2)
            if time.monotonic() - self._last_received > self.keepalive * 1.5:
                self._fail(MqttWireError("the broker stopped answering (keep-alive)"))
                if self._transport is not None:
                    self._transport.abort()
                return
            self._write(b"\xc0\x00")  # PINGREQ

    def close(self) -> None:
        """Send DISCONNECT (normal) and close; pending operations fail."""
        if self._transport is not None and not self._transport.is_closing():
            with contextlib.suppress(Exception):
                self._transport.write(b"\xe0\x00")
            self._transport.close()
        self._fail(MqttWireError("closed"))

    @property
    def connected(self) -> bool:
        return self._error is None and self._transport is not None

    # --- requests -----------------------------------------------------------------------------

    def _packet_id(self) -> int:
        for _ in range(65535):
            self._next_id = self._next_id % 65535 + 1
            if self._next_id not in self._in_flight and (SUBACK, self._next_id) not in self._pending:
                return self._next_id
        raise MqttWireError("no free packet identifier")

    async def subscribe(self, filters: list[tuple[str, int, bool]], timeout: float = 10.0) -> list[int]:
        """Subscribe to (topic filter, QoS, no local); returns the reason codes (< 0x80 granted)."""
        packet_id = self._packet_id()
        body = struct.pack("!H", packet_id) + b"\x00"
        for topic, qos, no_local in filters:
            body += _string(topic) + bytes([qos | (0x04 if no_local else 0)])
        reply = self._expect(SUBACK, packet_id)
        self._write(_packet(SUBSCRIBE, 0x02, body))
        data = await self._wait(reply, timeout)
        plen, offset = _read_varint(data, 2)
        codes = list(data[offset + plen :])
        refused = [f for f, code in zip(filters, codes, strict=False) if code >= 0x80]
        if refused:
            raise MqttWireError(f"the broker refused the subscriptions {[f[0] for f in refused]}")
        return codes

    async def publish(self, topic: str, payload: bytes, qos: int = 1, timeout: float = 30.0) -> None:
        """Publish; at QoS 1 returns once the broker acknowledged it."""
        if not qos:
            self._write(publish_packet(topic, payload, 0, 0))
            return
        await self.publish_many([(topic, payload)], timeout)

    async def publish_many(self, messages: list[tuple[str, bytes]], timeout: float = 30.0) -> None:
        """Publish at QoS 1, as many in flight as the broker allows (its Receive Maximum), each such
        window in one write; returns once all are acknowledged."""
        async with self._sending:
            for start in range(0, len(messages), self._send_window):
                chunk = messages[start : start + self._send_window]
                window = _Window(len(chunk), asyncio.get_running_loop().create_future())
                packets = []
                for topic, payload in chunk:
                    packet_id = self._packet_id()
                    self._in_flight[packet_id] = window
                    packets.append(publish_packet(topic, payload, 1, packet_id))
                self._write(b"".join(packets))
                try:
                    await asyncio.wait_for(window.done, timeout)
                except TimeoutError:
                    error = MqttWireError("the broker did not acknowledge publications in time")
                    self._fail(error)
                    raise error from None
                if window.refused:
                    raise MqttWireError(f"the broker refused {window.refused} publications")

    def ack(self, packet_ids: list[int]) -> None:
        """PUBACK (success) for the QoS 1 messages ``packet_ids``, in one write."""
        if packet_ids:
            self._write(b"".join(b"\x40\x02" + struct.pack("!H", pid) for pid in packet_ids))

    async def batch(self, limit: int) -> list[Incoming]:
        """Wait for at least one message; return up to ``limit`` of those received so far."""
        while not self._incoming:
            self._check()
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        out: list[Incoming] = []
        incoming = self._incoming
        while incoming and len(out) < limit:
            out.append(incoming.popleft())
        return out

    # --- internals ----------------------------------------------------------------------------

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def _write(self, data: bytes) -> None:
        self._check()
        assert self._transport is not None
        self._transport.write(data)

    def _expect(self, kind: int, packet_id: int) -> asyncio.Future[bytes]:
        self._check()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[(kind, packet_id)] = future
        return future

    async def _wait(self, future: asyncio.Future[bytes], timeout: float) -> bytes:
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            for key, pending in list(self._pending.items()):
                if pending is future:
                    del self._pending[key]
            raise MqttWireError("the broker did not answer in time") from None

    def _control(self, kind: int, body: bytes) -> None:
        if kind == PUBACK:
            window = self._in_flight.pop(body[0] << 8 | body[1], None) if len(body) >= 2 else None
            if window is not None:
                window.left -= 1
                if len(body) > 2 and body[2] >= 0x80:
                    window.refused += 1
                if not window.left and not window.done.done():
                    window.done.set_result(None)
            return
        if kind == SUBACK:
            key = (kind, body[0] << 8 | body[1]) if len(body) >= 2 else (kind, 0)
        elif kind == CONNACK:
            key = (CONNACK, 0)
        elif kind == DISCONNECT:
            reason = body[0] if body else 0
            self._fail(MqttWireError(f"the broker disconnected us (reason code {reason:#x})"))
            return
        else:  # PINGRESP and anything not asked for
            return
        future = self._pending.pop(key, None)
        if future is not None and not future.done():
            future.set_result(body)

    def _fail(self, error: MqttWireError) -> None:
        if self._error is not None:
            return
        self._error = error
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # whoever waits gets it; nobody waiting is no "never retrieved" warning
        self._pending.clear()
        for window in set(self._in_flight.values()):
            if not window.done.done():
                window.done.set_exception(error)
                window.done.exception()
        self._in_flight.clear()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._pinger is not None and self._pinger is not asyncio.current_task():
            self._pinger.cancel()
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


def _properties(data: bytes) -> dict[int, int | bytes]:
    """MQTT 5 properties: identifier -> integer value (or the raw bytes of a string; pairs are skipped)."""
    out: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(data):
        ident, pos = _read_varint(data, pos)
        size = _PROPERTY_SIZES.get(ident)
        if size is None:
            raise MqttWireError(f"unknown MQTT property {ident:#x}")
        if isinstance(size, int):
            out[ident] = int.from_bytes(data[pos : pos + size], "big")
            pos += size
        elif size == "v":
            out[ident], pos = _read_varint(data, pos)
        else:
            for _ in range(2 if size == "p" else 1):
                n = data[pos] << 8 | data[pos + 1]
                if size == "s":
                    out[ident] = data[pos + 2 : pos + 2 + n]
                pos += 2 + n
    return out

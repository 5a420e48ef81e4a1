"""cityops' MQTT 5 client against the real Mosquitto: framing of any size, QoS 0/1, acknowledgement, redelivery."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from cityops.sensing.mqtt_wire import Incoming, MqttWireError, WireClient
from tests.sensing.test_mqtt import Peer, wait_until
from tests.services import MQTT_HOST, MQTT_PORT, require_mqtt

pytestmark = pytest.mark.mqtt

SIZES = [0, 1, 100, 127, 128, 16_383, 16_384, 300_000]  # around the remaining-length byte boundaries


@pytest.fixture(autouse=True)
def _broker() -> None:
    require_mqtt()


async def receive(client: WireClient, n: int) -> list[Incoming]:
    got: list[Incoming] = []
    while len(got) < n:
        got += await asyncio.wait_for(client.batch(1000), 15)
    return got


def test_messages_of_every_size_arrive_whole_and_in_order() -> None:
    topic = f"wire-{uuid.uuid4().hex[:8]}/x"
    peer = Peer()

    async def main() -> list[Incoming]:
        client = WireClient(MQTT_HOST, MQTT_PORT, f"wire-{uuid.uuid4().hex[:8]}")
        await client.connect()
        await client.subscribe([(topic, 1, False)])
        for k, size in enumerate(SIZES):
            body = bytes([k % 256]) * size
            peer.client.publish(topic, body, qos=k % 2).wait_for_publish(10)
        got = await receive(client, len(SIZES))
        client.ack([m.packet_id for m in got if m.qos])
        client.close()
        return got

    try:
        got = asyncio.run(main())
    finally:
        peer.close()
    assert [(m.topic, len(m.payload), m.qos) for m in got] == [(topic, s, k % 2) for k, s in enumerate(SIZES)]
    assert all(m.payload == bytes([k % 256]) * SIZES[k] for k, m in enumerate(got))
    assert all((m.packet_id > 0) == bool(m.qos) for m in got)


def test_unacknowledged_messages_come_again_with_dup_after_a_reconnect_and_acknowledged_ones_do_not() -> None:
    topic = f"wire-{uuid.uuid4().hex[:8]}/x"
    client_id = f"wire-{uuid.uuid4().hex[:8]}"
    peer = Peer()

    def session() -> WireClient:
        return WireClient(MQTT_HOST, MQTT_PORT, client_id, clean_start=False, session_expiry=60)

    async def main() -> tuple[list[Incoming], list[Incoming], bool]:
        first = session()
        await first.connect()
        await first.subscribe([(topic, 1, False)])
        for k in range(4):
            peer.client.publish(topic, b"%d" % k, qos=1).wait_for_publish(10)
        got = await receive(first, 4)
        first.ack([got[0].packet_id, got[2].packet_id])
        await first.publish(f"{topic}/sync", b"")  # the broker has read our PUBACKs once this is answered
        first.close()
        second = session()
        await second.connect()
        again = await receive(second, 2)
        second.ack([m.packet_id for m in again])
        second.close()
        return got, again, second.session_present

    try:
        got, again, present = asyncio.run(main())
    finally:
        peer.close()
    assert present
    assert [m.payload for m in got] == [b"0", b"1", b"2", b"3"]
    assert not any(m.dup for m in got)
    assert [(m.payload, m.dup) for m in again] == [(b"1", True), (b"3", True)]
    assert [m.packet_id for m in again] == [got[1].packet_id, got[3].packet_id]


def test_publications_reach_subscribers_and_a_refused_connection_raises() -> None:
    topic = f"wire-{uuid.uuid4().hex[:8]}/out"
    peer = Peer()
    peer.subscribe(topic)

    async def main() -> None:
        client = WireClient(MQTT_HOST, MQTT_PORT, f"wire-{uuid.uuid4().hex[:8]}")
        await client.connect()
        await client.publish_many([(topic, b"%d" % k) for k in range(50)])
        client.close()
        with pytest.raises(MqttWireError):
            await client.publish(topic, b"after close")
        with pytest.raises(MqttWireError):
            await WireClient(MQTT_HOST, 1, "nobody").connect(timeout=2)

    try:
        asyncio.run(main())
        assert wait_until(lambda: len(peer.received) == 50)
    finally:
        peer.close()
    assert sorted(int(p) for _t, p in peer.received) == list(range(50))

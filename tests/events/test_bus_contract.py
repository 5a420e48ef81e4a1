"""The event bus contract, run against MemoryBus and NatsBus (JetStream on 127.0.0.1:4222)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cityops.events.bus import Event, EventBus, subject_matches
from tests.events.buses import MAX_DELIVER, wait_until


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    @property
    def subjects(self) -> list[str]:
        return [e.subject for e in self.events]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]


async def test_publish_reaches_a_matching_subscriber_with_the_event_intact(bus: EventBus) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.created", "intact", got)
    when = datetime(2026, 7, 1, 1, 2, 3, 456000, tzinfo=UTC)
    sent = Event("cases.created", {"case_id": 7, "title": "Đường Hùng Vương ngập"}, occurred_at=when)
    await bus.publish(Event("observations.created", {"n": 1}))
    await bus.publish(sent)
    await wait_until(lambda: len(got.events) == 1)
    await bus.publish(Event("cases.created", {"marker": True}))
    await wait_until(lambda: len(got.events) == 2)
    await sub.stop()
    assert got.events[0] == sent
    assert got.events[0].occurred_at == when
    assert got.subjects == ["cases.created", "cases.created"]


@pytest.mark.parametrize(
    ("subject_filter", "expected"),
    [
        ("cases.*", ["cases.created", "cases.closed"]),
        ("cases.>", ["cases.created", "cases.closed", "cases.sla.breached"]),
        ("*.created", ["cases.created", "observations.created"]),
        (">", ["cases.created", "cases.closed", "cases.sla.breached", "observations.created"]),
        ("*.sla.*", ["cases.sla.breached"]),
    ],
)
async def test_wildcard_filters(bus: EventBus, subject_filter: str, expected: list[str]) -> None:
    got = Recorder()
    sub = await bus.subscribe(subject_filter, "wild", got)
    for subject in ["cases.created", "cases.closed", "cases.sla.breached", "observations.created"]:
        await bus.publish(Event(subject))
    marker = Event(expected[0], {"marker": True})  # once it arrives, every earlier event was looked at
    await bus.publish(marker)
    await wait_until(lambda: marker.id in got.ids)
    await sub.stop()
    assert got.subjects == [*expected, expected[0]]


async def test_events_of_a_subject_arrive_in_publish_order(bus: EventBus) -> None:
    got = Recorder()
    sub = await bus.subscribe("observations.created", "ordered", got)
    sent = [Event("observations.created", {"seq": i}) for i in range(40)]
    for event in sent:
        await bus.publish(event)
    await wait_until(lambda: len(got.events) == len(sent))
    await sub.stop()
    assert [e.payload["seq"] for e in got.events] == list(range(40))


async def test_a_failing_handler_gets_the_event_again(bus: EventBus) -> None:
    calls: list[str] = []
    failures = {"left": 2}

    async def flaky(event: Event) -> None:
        calls.append(event.payload["name"])
        if event.payload["name"] == "x" and failures["left"] > 0:
            failures["left"] -= 1
            raise RuntimeError("database busy")

    sub = await bus.subscribe("cases.*", "flaky", flaky)
    await bus.publish(Event("cases.created", {"name": "x"}))
    await bus.publish(Event("cases.created", {"name": "y"}))
    await wait_until(lambda: "y" in calls)
    await sub.stop()
    assert calls.count("x") == 3  # two failures, then success
    assert calls[-1] == "y"
    assert not bus.dead_letters


async def test_an_event_that_always_fails_is_dead_lettered_and_the_consumer_moves_on(bus: EventBus) -> None:
    calls: list[str] = []

    async def poisoned(event: Event) -> None:
        calls.append(event.payload["name"])
        if event.payload["name"] == "poison":
            raise ValueError("cannot handle")

    sub = await bus.subscribe("alerts.opened", "poisoned", poisoned)
    bad = Event("alerts.opened", {"name": "poison"})
    await bus.publish(bad)
    await bus.publish(Event("alerts.opened", {"name": "fine"}))
    await wait_until(lambda: "fine" in calls)
    await sub.stop()
    assert calls.count("poison") == MAX_DELIVER
    assert list(bus.dead_letters) == [("poisoned", bad)]


async def test_a_durable_resumes_where_it_stopped(bus: EventBus) -> None:
    first = Recorder()
    sub = await bus.subscribe("cases.>", "resumer", first)
    before = [Event("cases.created", {"n": i}) for i in range(3)]
    for event in before:
        await bus.publish(event)
    await wait_until(lambda: len(first.events) == 3)
    await sub.stop()

    meanwhile = [Event("cases.updated", {"n": i}) for i in range(3, 6)]
    for event in meanwhile:
        await bus.publish(event)

    second = Recorder()
    sub = await bus.subscribe("cases.>", "resumer", second)
    marker = Event("cases.marker")
    await bus.publish(marker)
    await wait_until(lambda: marker.id in second.ids)
    await sub.stop()
    assert first.ids == [e.id for e in before]
    assert second.ids == [e.id for e in [*meanwhile, marker]]  # exactly the new ones, none lost


async def test_two_durables_each_get_everything(bus: EventBus) -> None:
    rules, rollups = Recorder(), Recorder()
    sub_a = await bus.subscribe("observations.>", "rules", rules)
    sub_b = await bus.subscribe("observations.>", "rollups", rollups)
    sent = [Event("observations.created", {"i": i}) for i in range(10)]
    for event in sent:
        await bus.publish(event)
    await wait_until(lambda: len(rules.events) == 10 and len(rollups.events) == 10)
    await sub_a.stop()
    await sub_b.stop()
    assert rules.ids == rollups.ids == [e.id for e in sent]


async def test_a_new_durable_starts_with_events_published_after_it(bus: EventBus) -> None:
    await bus.publish(Event("cases.created", {"old": True}))
    got = Recorder()
    sub = await bus.subscribe("cases.created", "latecomer", got)
    fresh = Event("cases.created", {"old": False})
    await bus.publish(fresh)
    await wait_until(lambda: fresh.id in got.ids)
    await sub.stop()
    assert got.ids == [fresh.id]


async def test_publish_listeners_see_every_published_event(bus: EventBus) -> None:
    seen: list[str] = []
    bus.add_publish_listener(lambda e: seen.append(e.subject))
    await bus.publish(Event("cases.created"))
    await bus.publish(Event("alerts.opened"))
    assert seen == ["cases.created", "alerts.opened"]
    assert bus.is_ready()


@pytest.mark.parametrize("subject_filter", ["", "cases.", "cases..x", ">.cases", "cases.>.x", "ca ses"])
async def test_bad_filters_are_refused(bus: EventBus, subject_filter: str) -> None:
    with pytest.raises(ValueError, match="invalid subject filter"):
        await bus.subscribe(subject_filter, "bad", Recorder())


@pytest.mark.parametrize("durable", ["", "has.dot", "has space", "star*", "x" * 65])
async def test_bad_durable_names_are_refused(bus: EventBus, durable: str) -> None:
    with pytest.raises(ValueError, match="invalid durable name"):
        await bus.subscribe("cases.*", durable, Recorder())


async def test_a_durable_cannot_change_its_filter(bus: EventBus) -> None:
    sub = await bus.subscribe("cases.*", "fixed", Recorder())
    await sub.stop()
    with pytest.raises(ValueError, match="already follows"):
        await bus.subscribe("alerts.*", "fixed", Recorder())


# -- pure functions -------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["", "cases.*", "cases.>", "a..b", "cases created", ".cases"])
def test_events_need_a_concrete_subject(subject: str) -> None:
    with pytest.raises(ValueError, match="invalid event subject"):
        Event(subject)


def test_events_need_an_aware_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        Event("cases.created", occurred_at=datetime(2026, 1, 1))


def test_event_json_round_trip() -> None:
    event = Event("cases.created", {"name": "Phường Tân An", "n": [1, 2]})
    assert Event.from_json(event.to_json()) == event
    assert b'"occurred_at":"' in event.to_json()
    assert event.to_json().count(b"Z") >= 1  # UTC, marked as such


@pytest.mark.parametrize(
    ("pattern", "subject", "matches"),
    [
        ("a.b", "a.b", True),
        ("a.b", "a.c", False),
        ("a.*", "a.b", True),
        ("a.*", "a.b.c", False),
        ("a.*", "a", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("*.b", "a.b", True),
        (">", "a", True),
        ("a.*.c", "a.x.c", True),
        ("a.*.c", "a.x.d", False),
    ],
)
def test_subject_matches(pattern: str, subject: str, matches: bool) -> None:
    assert subject_matches(pattern, subject) is matches


async def test_the_largest_payload_the_outbox_accepts_goes_through(bus: EventBus) -> None:
    from cityops.events.outbox import MAX_PAYLOAD_BYTES

    got = Recorder()
    sub = await bus.subscribe("observations.created", "big", got)
    big = Event("observations.created", {"blob": "x" * (MAX_PAYLOAD_BYTES - 100)})
    await bus.publish(big)
    await wait_until(lambda: len(got.events) == 1)
    await sub.stop()
    assert got.events[0] == big


async def test_the_memory_bus_bounds_what_it_keeps_for_a_durable_that_never_returns() -> None:
    from cityops.events.bus import MemoryBus

    memory = MemoryBus(max_log=5)
    await memory.start()
    try:
        got = Recorder()
        sub = await memory.subscribe("cases.>", "gone", got)
        await sub.stop()
        sent = [Event("cases.created", {"i": i}) for i in range(8)]
        for event in sent:
            await memory.publish(event)
        assert len(memory._log) == 5
        sub = await memory.subscribe("cases.>", "gone", got)
        await wait_until(lambda: len(got.events) == 5)
        await sub.stop()
        assert got.ids == [e.id for e in sent[3:]]  # the newest five; the loss was logged
    finally:
        await memory.close()


async def test_delivery_listeners_see_every_outcome(bus: EventBus) -> None:
    outcomes: list[tuple[str, str, str]] = []
    bus.add_delivery_listener(
        lambda durable, event, outcome: outcomes.append((durable, event.payload["n"], outcome))
    )

    async def handler(event: Event) -> None:
        if event.payload["n"] == "bad":
            raise RuntimeError("no")

    sub = await bus.subscribe("cases.*", "counted", handler)
    await bus.publish(Event("cases.created", {"n": "bad"}))
    await bus.publish(Event("cases.created", {"n": "good"}))
    await wait_until(lambda: ("counted", "good", "ok") in outcomes)
    await sub.stop()
    assert outcomes == [
        *[("counted", "bad", "failed")] * MAX_DELIVER,
        ("counted", "bad", "dead_lettered"),
        ("counted", "good", "ok"),
    ]


def test_an_event_with_raw_json_text_parses_it_once_and_relays_it_as_it_is() -> None:
    raw = b'{"name": "Ph\xc6\xb0\xe1\xbb\x9dng T\xc3\xa2n An", "n": [1, 2.5]}'
    event = Event("cases.created", raw=raw)
    assert event.payload_json() is raw  # passed on without a parse
    wire = event.to_json()
    assert raw in wire  # embedded as it is, not re-serialised
    assert event.payload == {"name": "Phường Tân An", "n": [1, 2.5]}
    assert event.payload is event.payload  # parsed once, shared by the consumers
    back = Event.from_json(wire)
    assert back == event
    assert back == Event(
        "cases.created", {"name": "Phường Tân An", "n": [1, 2.5]}, event.id, event.occurred_at
    )
    with pytest.raises(ValueError, match="not both"):
        Event("cases.created", {"a": 1}, raw=b"{}")
    with pytest.raises(AttributeError):
        event.subject = "cases.closed"  # type: ignore[misc]


async def test_raw_events_reach_subscribers_intact(bus: EventBus) -> None:
    got = Recorder()
    sub = await bus.subscribe("cases.*", "raw", got)
    sent = Event("cases.created", raw='{"name":"Bến Lức","at":"2026-03-01T10:00:00Z"}')
    await bus.publish(sent)
    await wait_until(lambda: len(got.events) == 1)
    await sub.stop()
    assert got.events[0] == sent
    assert got.events[0].payload == {"name": "Bến Lức", "at": "2026-03-01T10:00:00Z"}

"""Group commit of report submissions: concurrent submissions are written by one thread in one
transaction, each caller is answered only after the transaction holding its row committed, an
Idempotency-Key still stores exactly one case, and a failing row does not lose the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.audit.service import deferred_flush, record
from cityops.db import GroupCommit, WriterBusy, group_commit
from cityops.events.models import OutboxEvent
from cityops.idempotency import IdempotencyRecord
from cityops.identity.policy import Principal
from cityops.reports import intake
from cityops.reports.access import Actor
from cityops.reports.models import (
    Case,
    CaseEvent,
    CaseMedia,
    CaseReporter,
    CaseSubscription,
)
from cityops.settings import Settings
from tests.reports.conftest import A_POINT, MONDAY_9, World

ANON = Actor(Principal.anonymous())
WAIT = 30.0  # generous bound on waiting for other threads to queue (not a timing assertion)


def counts(session: Session) -> dict[str, int]:
    session.rollback()
    out = {
        m.__tablename__: session.scalar(select(func.count()).select_from(m)) or 0
        for m in (Case, CaseReporter, CaseEvent, AuditEntry, OutboxEvent, IdempotencyRecord)
    }
    session.rollback()
    return out


def submission(text: str) -> intake.Submission:
    return intake.Submission(category_code="lighting", description=text, lat=A_POINT[0], lon=A_POINT[1])


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "other submissions did not queue"
        time.sleep(0.005)


@pytest.fixture
def batches(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[list[int], Callable[[int], None]]]:
    """Record the size of each group written; ``hold(n)`` makes the first group's writer wait until
    ``n`` more submissions are queued behind it, so they form the next group."""
    sizes: list[int] = []
    held = {"n": 0}
    real = intake._write_group
    group = group_commit(world.session.get_bind().engine, "reports.submit")
    monkeypatch.setattr(group, "writers", 1)  # one batch at a time

    def spy(session: Session, settings: Settings, items: Sequence[Any]) -> Any:
        if not sizes and held["n"]:
            wait_until(lambda: len(group._queue) >= held["n"])
        sizes.append(len(items))
        return real(session, settings, items)

    monkeypatch.setattr(intake, "_write_group", spy)
    return sizes, lambda n: held.__setitem__("n", n)


def submit_in_threads(
    sessions: sessionmaker[Session], settings: Settings, calls: list[dict[str, Any]]
) -> list[Any]:
    """Run each call of ``submit_idempotent`` in its own thread and session; the first starts alone."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        call = calls[i]
        with sessions() as s:
            try:
                results[i] = intake.submit_idempotent(
                    s,
                    settings,
                    ANON,
                    submission(call["text"]),
                    key=call.get("key"),
                    fingerprint_payload={"text": call["text"]},
                    render=lambda r: {"ref": r.case.ref, "token": r.token, "id": r.case.id},
                    now=MONDAY_9,
                )
            except Exception as exc:  # reported to the test
                results[i] = exc

    first = threading.Thread(target=run, args=(0,))
    first.start()
    others = [threading.Thread(target=run, args=(i,)) for i in range(1, len(calls))]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(WAIT * 2)
    return results


def test_concurrent_submissions_share_one_transaction_and_each_gets_its_own_case(
    world: World, sessions: sessionmaker[Session], settings: Settings, batches: Any
) -> None:
    sizes, hold = batches
    hold(5)
    before = counts(world.session)
    results = submit_in_threads(sessions, settings, [{"text": f"Đèn hỏng {i}"} for i in range(6)])
    assert all(isinstance(r, tuple) and r[0] == 201 and r[2] is False for r in results), results
    assert sizes == [1, 5]  # the five queued behind the first writer went in one group
    after = counts(world.session)
    for table in ("cases", "case_reporters", "outbox_events"):
        assert after[table] == before[table] + 6
    assert after["case_events"] >= before["case_events"] + 6
    assert after["audit_log"] >= before["audit_log"] + 6
    refs = {r[1]["ref"] for r in results}
    assert len(refs) == 6
    for _status, body, _ in results:
        case = intake.case_by_token(world.session, body["token"])
        assert case is not None
        assert case.ref == body["ref"]
        assert case.id == body["id"]
        events = world.session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id)).all()
        assert events == ["submitted"]


def test_one_failing_row_does_not_lose_the_others(
    world: World, sessions: sessionmaker[Session], settings: Settings
) -> None:
    """Three submissions in one group, the middle one reusing the first one's Idempotency-Key (a
    unique-constraint violation): the group falls back to one transaction each; the other two are
    stored and answered, the middle one gets its own error."""
    before = counts(world.session)
    items = []
    for i, key in enumerate(["group-key-000001", "group-key-000001", "group-key-000002"]):
        draft = intake._prepare(world.session, settings, submission(f"Đèn {i}"), MONDAY_9)
        items.append(intake._Pending(ANON, draft, key, f"fingerprint-{i}", intake_render))
    world.session.rollback()
    with sessions() as writer:
        outcomes = intake._write_group(writer, settings, items)
    assert isinstance(outcomes[0], tuple)
    assert outcomes[0][0] == 201
    assert isinstance(outcomes[1], IntegrityError)
    assert isinstance(outcomes[2], tuple)
    assert outcomes[2][0] == 201
    after = counts(world.session)
    assert after["cases"] == before["cases"] + 2
    assert after["outbox_events"] == before["outbox_events"] + 2
    keys = IdempotencyRecord.__tablename__
    assert after[keys] == before[keys] + 2
    stored = {
        world.session.scalar(select(Case.ref).where(Case.id == o[1]["id"]))
        for o in outcomes
        if isinstance(o, tuple)
    }
    assert stored == {outcomes[0][1]["ref"], outcomes[2][1]["ref"]}  # type: ignore[index]


def intake_render(result: intake.SubmitResult) -> dict[str, Any]:
    return {"ref": result.case.ref, "token": result.token, "id": result.case.id}


def test_same_idempotency_key_in_one_group_stores_one_case_and_replays(
    world: World, sessions: sessionmaker[Session], settings: Settings, batches: Any
) -> None:
    sizes, hold = batches
    hold(2)
    before = counts(world.session)
    same = {"text": "Đèn tắt cả dãy phố", "key": "same-key-in-group-01"}
    results = submit_in_threads(sessions, settings, [{"text": "dẫn đầu"}, same, dict(same)])
    assert sizes[:2] == [1, 2]
    assert all(isinstance(r, tuple) and r[0] == 201 for r in results), results
    a, b = results[1], results[2]
    assert a[1]["ref"] == b[1]["ref"]
    assert a[1]["token"] != b[1]["token"]  # the replay carries a fresh token (#21), not the first one
    assert sorted([a[2], b[2]]) == [False, True]  # one stored, one replayed
    after = counts(world.session)
    assert after["cases"] == before["cases"] + 2  # the leader's and the keyed one, once


def test_a_waiting_item_not_taken_within_the_timeout_is_refused_unwritten() -> None:
    group: GroupCommit[str, str] = GroupCommit()
    started, release = threading.Event(), threading.Event()
    written: list[str] = []

    def slow_write(items: Sequence[str]) -> list[str]:
        started.set()
        release.wait(WAIT)
        written.extend(items)
        return [f"ok {i}" for i in items]

    leader_result: list[str] = []
    leader = threading.Thread(target=lambda: leader_result.append(group.run("a", slow_write, timeout=WAIT)))
    leader.start()
    assert started.wait(WAIT)
    with pytest.raises(WriterBusy):
        group.run("b", slow_write, timeout=0)
    release.set()
    leader.join(WAIT)
    assert leader_result == ["ok a"]
    assert written == ["a"]
    # the group is free again: the next item is written by its own caller
    assert group.run("c", lambda items: [f"ok {i}" for i in items], timeout=1) == "ok c"


def test_a_failed_group_write_reaches_every_caller() -> None:
    group: GroupCommit[str, str] = GroupCommit()

    def broken(items: Sequence[str]) -> list[str]:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        group.run("x", broken, timeout=1)
    # a per-item error is raised in that item's caller, and the group keeps working
    with pytest.raises(ValueError, match="bad row"):
        group.run("z", lambda items: [ValueError("bad row")], timeout=1)
    assert group.run("y", lambda items: ["fine"], timeout=1) == "fine"


def test_audit_records_in_deferred_flush_are_flushed_once_by_the_caller(world: World) -> None:
    session = world.session
    with deferred_flush(session):
        entry = record(session, None, "test.deferred", "case", 1, label="test")
        assert entry.id is None  # added, not flushed
    session.flush()
    assert entry.id is not None
    outside = record(session, None, "test.immediate", "case", 2, label="test")
    assert outside.id is not None  # the default still flushes at once
    session.rollback()


def test_with_two_writers_a_second_batch_is_written_while_the_first_is_in_flight() -> None:
    """PostgreSQL's setting: two batches at once; a third caller waits for one of them, and every
    item is written exactly once."""
    group: GroupCommit[str, str] = GroupCommit(writers=2)
    in_first, release = threading.Event(), threading.Event()
    written: list[str] = []
    lock = threading.Lock()

    def write(items: Sequence[str]) -> list[str]:
        if "a" in items:
            in_first.set()
            release.wait(WAIT)
        with lock:
            written.extend(items)
        return [f"ok {i}" for i in items]

    results: dict[str, str] = {}
    a = threading.Thread(target=lambda: results.__setitem__("a", group.run("a", write, timeout=WAIT)))
    a.start()
    assert in_first.wait(WAIT)
    # the first writer is still busy: "b" gets the second writer at once
    assert group.run("b", write, timeout=WAIT) == "ok b"
    release.set()
    a.join(WAIT)
    assert results == {"a": "ok a"}
    assert sorted(written) == ["a", "b"]


def _rows(session: Session, model: Any, case_id: int, skip: set[str]) -> list[dict[str, Any]]:
    table = model.__table__
    column = table.c.case_id if "case_id" in table.c else table.c.id
    rows = session.execute(select(table).where(column == case_id).order_by(table.c.id)).mappings().all()
    return [{k: v for k, v in row.items() if k not in skip} for row in rows]


def test_a_group_writes_the_same_rows_as_a_single_submission(world: World, settings: Settings) -> None:
    """The group path builds its rows as plain dicts; they hold what the ORM path (:func:`intake.submit`)
    stores for the same report: case, reporter, follower, media, timeline, audit entry, outbox event."""
    session = world.session
    actor = world.actor("citizen")

    def sub() -> intake.Submission:
        return intake.Submission(
            category_code="lighting",
            description="Đèn hỏng, gọi 0912 345 678",
            lat=A_POINT[0],
            lon=A_POINT[1],
            accuracy_m=8.0,
            address="hẻm 12",
            phone="0912345678",
            consent=True,
            media_urls=["https://example.org/a.jpg"],
        )

    single = intake.submit(session, settings, actor, sub(), now=MONDAY_9)
    session.commit()
    single_id, single_body = single.case.id, submission_body_of(single)
    draft = intake._prepare(session, settings, sub(), MONDAY_9)
    session.rollback()
    [outcome] = intake._write_group(
        session, settings, [intake._Pending(actor, draft, None, None, submission_body_of)]
    )
    assert isinstance(outcome, tuple)
    status, body, replayed = outcome
    assert (status, replayed) == (201, False)
    grouped = intake.case_by_token(session, body["token"])
    assert grouped is not None
    assert grouped.id != single_id
    differ = {"id", "ref", "token_hash", "case_id"}
    for model in (Case, CaseReporter, CaseEvent, CaseSubscription, CaseMedia):
        rows = _rows(session, model, grouped.id, differ)
        assert rows, model  # each kind of row is there (a citizen follows their report; one media link)
        assert rows == _rows(session, model, single_id, differ), model
    own = ("ref", "token", "duplicates")  # the second report finds the first as a nearby duplicate
    assert {k: v for k, v in body.items() if k not in own} == {
        k: v for k, v in single_body.items() if k not in own
    }
    assert [d["ref"] for d in body["duplicates"]] == [single_body["ref"]]

    def audit(case_id: int) -> list[Any]:
        return [
            (e.action, e.actor_type, e.actor_id, e.before, e.after)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.target_id == str(case_id)))
        ]

    assert audit(grouped.id) == audit(single_id)
    assert audit(grouped.id)  # the audit twin of the timeline entry is there

    def outbox(case_id: int) -> list[Any]:
        payloads = [e.payload for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]
        return [
            {k: v for k, v in p.items() if k not in ("id", "ref")} for p in payloads if p["id"] == case_id
        ]

    assert outbox(grouped.id) == outbox(single_id)
    assert len(outbox(grouped.id)) == 1


def submission_body_of(result: intake.SubmitResult) -> dict[str, Any]:
    """What the API answers (``reports.api.public.submission_body``), for comparing the two paths."""
    from cityops.reports.api.public import submission_body

    return submission_body(result)

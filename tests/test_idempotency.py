"""The core ``Idempotency-Key`` store: replay, a reused key refused, one record per key under a race, the
prune (both backends). The HTTP behaviour of each API is tested with it (tests/reports, tests/sensing)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from cityops import idempotency
from cityops.clock import utcnow
from cityops.errors import ApiError
from cityops.idempotency import IdempotencyRecord

SCOPE = "user:7"
KEY = "0b6f0f7e-2c1d-4d59-9a59-3f0c8f0a1b22"


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0


def test_replay_returns_the_stored_answer(session: Session) -> None:
    fingerprint = idempotency.request_fingerprint({"b": 2, "a": [1, "x"]})
    assert idempotency.find_replay(session, SCOPE, KEY, fingerprint) is None
    idempotency.record(session, SCOPE, KEY, fingerprint, 201, {"id": 41, "ref": "PA-1"})
    session.commit()

    # the same request, its keys in another order: the same fingerprint, the first answer
    again = idempotency.request_fingerprint({"a": [1, "x"], "b": 2})
    found = idempotency.find_replay(session, SCOPE, KEY, again)
    assert found is not None
    assert (found.status, found.body) == (201, {"id": 41, "ref": "PA-1"})
    assert count(session) == 1


def test_the_same_key_for_another_request_is_409_and_changes_nothing(session: Session) -> None:
    idempotency.record(
        session, SCOPE, KEY, idempotency.request_fingerprint({"text": "first"}), 201, {"id": 1}
    )
    session.commit()

    with pytest.raises(ApiError) as refused:
        idempotency.find_replay(session, SCOPE, KEY, idempotency.request_fingerprint({"text": "second"}))
    assert refused.value.status == 409
    assert refused.value.code == "idempotency_key_reused"
    stored = session.scalars(select(IdempotencyRecord)).one()
    assert stored.body == {"id": 1}


def test_scopes_never_meet(session: Session) -> None:
    """A key is the caller's own: the same key from another scope is a first request, not a conflict."""
    idempotency.record(session, SCOPE, KEY, idempotency.request_fingerprint("a"), 201, {"id": 1})
    session.commit()
    assert idempotency.find_replay(session, "sta:user:7", KEY, idempotency.request_fingerprint("b")) is None
    idempotency.record(session, "sta:user:7", KEY, idempotency.request_fingerprint("b"), 201, {"id": 2})
    session.commit()
    assert count(session) == 2


def test_two_requests_with_one_key_leave_one_record(sessions: sessionmaker[Session]) -> None:
    """Both look, find nothing, both store: the unique (scope, key) lets one commit; the other rolls back
    and replays the winner's answer (the protocol of the module docstring)."""
    fingerprint = idempotency.request_fingerprint({"text": "same request"})
    looked = threading.Barrier(2, timeout=30)
    answers: list[dict[str, object]] = []
    errors: list[BaseException] = []

    def request(n: int) -> None:
        with sessions() as session:
            try:
                assert idempotency.find_replay(session, SCOPE, KEY, fingerprint) is None
                session.rollback()  # end the read: the write starts from the latest snapshot
                looked.wait()
                idempotency.record(session, SCOPE, KEY, fingerprint, 201, {"made_by": n})
                try:
                    session.commit()
                    answers.append({"made_by": n})
                except IntegrityError:
                    session.rollback()
                    winner = idempotency.find_replay(session, SCOPE, KEY, fingerprint)
                    assert winner is not None
                    answers.append(dict(winner.body))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=request, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(answers) == 2
    assert answers[0] == answers[1]  # both callers got the one answer
    with sessions() as session:
        stored = session.scalars(select(IdempotencyRecord)).one()
        assert stored.body == answers[0]


def test_prune_removes_answers_older_than_the_ttl(session: Session) -> None:
    now = utcnow()
    idempotency.record(
        session, SCOPE, "old-key", "f", 201, {}, at=now - idempotency.TTL - timedelta(seconds=1)
    )
    idempotency.record(
        session, SCOPE, "new-key", "f", 201, {}, at=now - idempotency.TTL + timedelta(minutes=1)
    )
    session.commit()
    assert idempotency.prune(session, now) == 1
    session.commit()
    assert session.scalars(select(IdempotencyRecord.key)).all() == ["new-key"]

"""Group commit of small ingest requests (#22): concurrent station requests share one transaction and one
``observations.created`` event; a refused or conflicting request is answered alone and stores nothing,
while the others of its group are stored; both backends."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.events.models import OutboxEvent
from cityops.sensing.ingest import IngestError, IngestResult, ObservationColumns
from cityops.sensing.ingest.batch import time_text
from cityops.sensing.ingest.group import Clash, _write, merge, split
from cityops.sensing.models import Observation
from tests.sensing.test_storage import make_datastream

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
STA = "/sta/v1.1"


def _cols(ds_id: int, minutes: list[int], values: list[float], **extra: Any) -> ObservationColumns:
    return ObservationColumns(
        datastream_id=[ds_id] * len(minutes),
        phenomenon_time=[time_text(T0 + timedelta(minutes=m)) for m in minutes],
        result=list(values),
        **extra,
    )


def _events(session: Session) -> list[OutboxEvent]:
    return list(
        session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject == "observations.created").order_by(OutboxEvent.id)
        )
    )


def test_merge_pads_optional_columns_and_split_gives_each_part_its_rows() -> None:
    a = _cols(1, [0, 1], [1.0, 2.0])
    b = _cols(2, [0], [3.0], quality_flags=[4], parameters=[{"k": 1}])
    merged = merge([a, b])
    assert merged.datastream_id == [1, 1, 2]
    assert merged.result == [1.0, 2.0, 3.0]
    assert merged.quality_flags == [0, 0, 4]
    assert merged.parameters == [None, None, {"k": 1}]
    assert merged.result_time is None
    shares = split(IngestResult(2, 1, [10, 11, 10], [2]), [a, b])
    assert shares[0] == IngestResult(2, 0, [10, 11], [])
    assert shares[1] == IngestResult(0, 1, [10], [0])


def test_a_group_is_one_transaction_and_one_event(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        one, two = make_datastream(s).id, make_datastream(s).id
        s.commit()
    items = [_cols(one, [0], [1.5]), _cols(two, [0, 1], [2.5, 3.5]), _cols(one, [1], [4.5])]
    session = sessions()
    try:
        outcomes = _write(session, items)
    finally:
        session.close()
    assert all(isinstance(o, IngestResult) for o in outcomes)
    results = [o for o in outcomes if isinstance(o, IngestResult)]
    assert [r.inserted for r in results] == [1, 2, 1]
    with sessions() as s:
        stored = {i: v for i, v in s.execute(select(Observation.id, Observation.result_number))}
        assert [stored[i] for r in results for i in r.ids] == [1.5, 2.5, 3.5, 4.5]
        events = _events(s)
        assert len(events) == 1  # the consumers see the group once
        assert sorted(events[0].payload["ids"]) == sorted(i for r in results for i in r.ids)


def test_a_conflicting_request_stores_nothing_and_the_rest_of_its_group_is_stored(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as s:
        ds = make_datastream(s).id
        s.commit()
    session = sessions()
    try:
        first = _write(session, [_cols(ds, [0], [1.0])])
        assert isinstance(first[0], IngestResult)
        outcomes = _write(
            session,
            [
                _cols(ds, [1], [2.0]),
                _cols(ds, [0, 2], [9.0, 3.0]),  # another value at a stored time: a 409, minute 2 not kept
                _cols(ds, [0], [1.0]),  # the stored value again: an idempotent retry
                _cols(ds, [3], [4.0]),
            ],
        )
    finally:
        session.close()
    assert isinstance(outcomes[0], IngestResult)
    assert outcomes[0].inserted == 1
    assert outcomes[1] == Clash([0])
    assert isinstance(outcomes[2], IngestResult)
    assert outcomes[2].duplicates == 1
    assert outcomes[2].ids == first[0].ids  # type: ignore[union-attr]
    assert isinstance(outcomes[3], IngestResult)
    assert outcomes[3].inserted == 1
    with sessions() as s:
        stored = {t: v for t, v in s.execute(select(Observation.phenomenon_time, Observation.result_number))}
        assert stored == {T0: 1.0, T0 + timedelta(minutes=1): 2.0, T0 + timedelta(minutes=3): 4.0}


def test_a_refused_request_answers_alone(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        ds = make_datastream(s).id
        s.commit()
    future = datetime.now(UTC) + timedelta(hours=1)
    ahead = ObservationColumns([ds], [time_text(future)], [5.0])
    session = sessions()
    try:
        outcomes = _write(session, [_cols(ds, [0], [1.0]), ahead, _cols(ds, [1], [2.0])])
    finally:
        session.close()
    assert isinstance(outcomes[1], IngestError)
    assert "future" in outcomes[1].message
    assert [o.inserted for o in outcomes if isinstance(o, IngestResult)] == [1, 1]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 2


def test_concurrent_station_requests_each_get_their_own_links(
    client: TestClient, sessions: sessionmaker[Session], key: dict[str, str]
) -> None:
    with sessions() as s:
        ids = [make_datastream(s).id for _ in range(3)]
        s.commit()
    answers: dict[int, Any] = {}

    def station(n: int) -> None:
        body = [
            {
                "Datastream": {"@iot.id": ds},
                "components": ["phenomenonTime", "result"],
                "dataArray": [[(T0 + timedelta(minutes=n)).isoformat().replace("+00:00", "Z"), n + k / 10]],
            }
            for k, ds in enumerate(ids)
        ]
        answers[n] = client.post(f"{STA}/CreateObservations", json=body, headers=key)

    threads = [threading.Thread(target=station, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers) == list(range(8))
    assert {r.status_code for r in answers.values()} == {201}
    with sessions() as s:
        stored = {
            i: (ds, t, v)
            for i, ds, t, v in s.execute(
                select(
                    Observation.id,
                    Observation.datastream_id,
                    Observation.phenomenon_time,
                    Observation.result_number,
                )
            )
        }
        assert len(stored) == 24
        for n, r in answers.items():
            links = r.json()
            got = [stored[int(link.rsplit("(", 1)[1].rstrip(")"))] for link in links]
            assert got == [(ds, T0 + timedelta(minutes=n), n + k / 10) for k, ds in enumerate(ids)]
        events = _events(s)
        assert sum(e.payload["count"] for e in events) == 24  # every row announced once
        assert 1 <= len(events) <= 8


def test_a_single_observation_takes_the_group_path_and_answers_as_the_generic_create(
    client: TestClient, sessions: sessionmaker[Session], key: dict[str, str]
) -> None:
    with sessions() as s:
        ds = make_datastream(s).id
        s.commit()
    when = "2026-03-01T10:00:00Z"
    body = {"phenomenonTime": when, "result": 2.5, "Datastream": {"@iot.id": ds}}
    r = client.post(f"{STA}/Observations", json=body, headers=key)
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == created["@iot.selfLink"]
    assert created["result"] == 2.5
    assert created["phenomenonTime"] == when
    shown = client.get(r.headers["location"])
    assert shown.status_code == 200
    assert shown.json() == created
    again = client.post(f"{STA}/Observations", json=body, headers=key)  # the same value: the same entity
    assert again.status_code == 201
    assert again.json()["@iot.id"] == created["@iot.id"]
    other = client.post(f"{STA}/Observations", json={**body, "result": 9.0}, headers=key)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "conflict"
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    future = client.post(f"{STA}/Observations", json={**body, "phenomenonTime": ahead}, headers=key)
    assert future.status_code == 400
    assert "future" in future.text
    text = client.post(f"{STA}/Observations", json={**body, "result": "high"}, headers=key)
    assert text.status_code == 400  # OM_Measurement: a number
    anonymous = client.post(f"{STA}/Observations", json={**body, "phenomenonTime": "2026-03-01T11:00:00Z"})
    assert anonymous.status_code == 401
    missing = client.post(
        f"{STA}/Observations", json={**body, "Datastream": {"@iot.id": ds + 999}}, headers=key
    )
    assert missing.status_code == 400
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Observation)) == 1
        assert [e.payload["count"] for e in _events(s)] == [1]

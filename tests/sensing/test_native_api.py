"""Native sensing endpoints: latest value of every datastream and aggregates from the roll-ups."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.sensing.api import aggregate, latest_values
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Location, Thing, thing_locations
from tests.sensing.test_storage import make_datastream

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)


@contextmanager
def count_statements(session: Session) -> Iterator[list[str]]:
    """The SQL statements run on ``session``'s engine inside the block, to pin query counts (no N+1).

    Call the read function with this session directly: the app's own engine also carries its background
    work (outbox relay, event consumers), which would make a count over HTTP flaky.
    """
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_latest_values_with_bbox_and_area(client: TestClient, session: Session) -> None:
    ds = make_datastream(session)  # located at 106.41, 10.54
    other = make_datastream(session, with_location=False)
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(hours=h), float(h)) for h in range(3)])
    ingest_observations(session, [ObservationIn(other.id, T0, "offline")])
    area = Area(
        code="80001",
        level="commune",
        kind="Phường",
        name="Long An",
        name_key="long an",
        geometry={
            "type": "Polygon",
            "coordinates": [[[106.3, 10.5], [106.5, 10.5], [106.5, 10.6], [106.3, 10.6], [106.3, 10.5]]],
        },
    )
    far = Area(
        code="1",
        level="commune",
        kind="Xã",
        name="Far",
        name_key="far",
        geometry={"type": "Polygon", "coordinates": [[[100, 10], [101, 10], [101, 11], [100, 10]]]},
    )
    session.add_all([area, far])
    session.commit()

    body = client.get("/api/v1/sensing/latest").json()
    assert body["count"] == 2
    first = body["items"][0]
    assert first["datastream_id"] == ds.id
    assert first["result"] == 2
    assert first["phenomenon_time"] == "2026-03-01T02:00:00Z"
    assert (first["lat"], first["lon"]) == (10.54, 106.41)
    assert body["items"][1]["result"] == "offline"

    inside = client.get("/api/v1/sensing/latest", params={"bbox": "106.4,10.5,106.5,10.6"}).json()
    assert [i["datastream_id"] for i in inside["items"]] == [ds.id]
    assert client.get("/api/v1/sensing/latest", params={"bbox": "0,0,1,1"}).json()["count"] == 0
    assert [
        i["datastream_id"] for i in client.get(f"/api/v1/sensing/latest?area_id={area.id}").json()["items"]
    ] == [ds.id]
    assert client.get(f"/api/v1/sensing/latest?area_id={far.id}").json()["count"] == 0

    bad = client.get("/api/v1/sensing/latest", params={"bbox": "1,2,3"})
    assert bad.status_code == 422
    assert bad.json()["error"]["code"] == "validation_error"
    assert client.get("/api/v1/sensing/latest?area_id=999999").status_code == 404


def test_aggregate_reads_rollups(client: TestClient, session: Session) -> None:
    ds = make_datastream(session)
    rows = [ObservationIn(ds.id, T0 + timedelta(minutes=20 * i), float(i)) for i in range(6)]  # 2 hours
    ingest_observations(session, rows)
    session.commit()
    url = f"/api/v1/sensing/datastreams/{ds.id}/aggregate"
    body = client.get(
        url, params={"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "hour"}
    ).json()
    assert body["unit"]["symbol"] == "g/L"
    assert body["buckets"] == [
        {
            "start": "2026-03-01T00:00:00Z",
            "avg": 1.0,
            "min": 0.0,
            "max": 2.0,
            "count": 3,
            "last": 2.0,
            "last_time": "2026-03-01T00:40:00Z",
        },
        {
            "start": "2026-03-01T01:00:00Z",
            "avg": 4.0,
            "min": 3.0,
            "max": 5.0,
            "count": 3,
            "last": 5.0,
            "last_time": "2026-03-01T01:40:00Z",
        },
    ]
    day = client.get(
        url,
        params={
            "from": "2026-03-01T07:00:00+07:00",
            "to": "2026-03-01T08:00:00+07:00",
            "interval": "day",
            "fn": "sum,count",
        },
    )
    assert day.json()["buckets"] == [{"start": "2026-03-01T00:00:00Z", "sum": 15.0, "count": 6}]
    minute = client.get(
        url,
        params={
            "from": "2026-03-01T01:00:00Z",
            "to": "2026-03-01T01:30:00Z",
            "interval": "minute",
            "fn": "last",
        },
    ).json()
    assert [b["start"] for b in minute["buckets"]] == ["2026-03-01T01:00:00Z", "2026-03-01T01:20:00Z"]

    for params in (
        {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "week"},
        {"from": "2026-03-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "fn": "median"},
        {"from": "2020-01-01T00:00:00Z", "to": "2026-03-02T00:00:00Z", "interval": "minute"},
        {"from": "yesterday", "to": "2026-03-02T00:00:00Z"},
    ):
        r = client.get(url, params=params)
        assert r.status_code == 422, params
        assert "error" in r.json()
    assert (
        client.get(
            "/api/v1/sensing/datastreams/999999/aggregate?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z"
        ).status_code
        == 404
    )


def test_latest_is_one_query_and_passes_json_columns_through(client: TestClient, session: Session) -> None:
    ds = make_datastream(session)
    quiet = make_datastream(session)  # never observed: nulls, not missing keys
    structured = make_datastream(session, with_location=False)
    # a second Location of the first station: the position stays its first (lowest id) one
    second = Location(name="moved", location={"type": "Point", "coordinates": [1.0, 2.0]}, lat=2.0, lon=1.0)
    session.add(second)
    session.flush()
    session.execute(thing_locations.insert().values(thing_id=ds.thing_id, location_id=second.id))
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.5)])
    ingest_observations(session, [ObservationIn(structured.id, T0, {"level": "cao", "n": [1, 2]})])
    precise = [make_datastream(session, with_location=False) for _ in range(2)]
    ingest_observations(session, [ObservationIn(precise[0].id, T0 + timedelta(microseconds=123_456), 3.0)])
    ingest_observations(session, [ObservationIn(precise[1].id, T0 + timedelta(microseconds=500), 4.0)])
    session.commit()

    with count_statements(session) as statements:
        latest_values(session, observed_property_id=ds.observed_property_id)
    assert len(statements) == 1
    r = client.get("/api/v1/sensing/latest")
    assert r.headers["content-type"] == "application/json"
    items = {i["datastream_id"]: i for i in r.json()["items"]}
    assert list(items) == sorted(items)
    assert items[ds.id] == {
        "datastream_id": ds.id,
        "name": "salinity",
        "thing_id": ds.thing_id,
        "thing_name": "Trạm mặn Tân An",
        "observed_property_id": ds.observed_property_id,
        "observed_property": "Salinity",
        "unit": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
        "result": 1.5,
        "phenomenon_time": "2026-03-01T00:00:00Z",
        "observation_id": items[ds.id]["observation_id"],
        "lat": 10.54,
        "lon": 106.41,
    }
    assert isinstance(items[ds.id]["observation_id"], int)
    assert items[quiet.id]["result"] is None
    assert items[quiet.id]["phenomenon_time"] is None
    assert items[quiet.id]["observation_id"] is None
    assert items[structured.id]["result"] == {"level": "cao", "n": [1, 2]}
    assert (items[structured.id]["lat"], items[structured.id]["lon"]) == (None, None)
    # milliseconds when there is a fraction of a second (truncated, as iso() does), else whole seconds
    assert items[precise[0].id]["phenomenon_time"] == "2026-03-01T00:00:00.123Z"
    assert items[precise[1].id]["phenomenon_time"] == "2026-03-01T00:00:00.000Z"

    # a later observation is what the next read shows
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(minutes=1), 7.0)])
    session.commit()
    after = client.get("/api/v1/sensing/latest", params={"observed_property_id": ds.observed_property_id})
    assert [(i["datastream_id"], i["result"]) for i in after.json()["items"]] == [(ds.id, 7)]


def test_aggregate_reads_the_range_once_then_serves_it_while_unchanged(
    client: TestClient, session: Session
) -> None:
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(hours=h), float(h)) for h in range(48)])
    session.commit()

    def read() -> tuple[list[str], bytes]:
        with count_statements(session) as statements:
            body = aggregate(ds.id, session, T0, T0 + timedelta(days=2), "hour", "sum,avg,last").body
        session.rollback()
        return [s for s in statements if "observation_rollups" in s and "ORDER BY" in s], bytes(body)

    ranges, first = read()
    assert len(ranges) == 1  # the roll-up range, as tuples (the unit comes with the cache's fingerprint)
    ranges, again = read()
    assert ranges == []
    assert again == first
    body = client.get(
        f"/api/v1/sensing/datastreams/{ds.id}/aggregate",
        params={"from": "2026-03-01T00:00:00Z", "to": "2026-03-03T00:00:00Z", "fn": "sum,min,max,avg,last"},
    ).json()
    assert len(body["buckets"]) == 48
    assert body["buckets"][47] == {
        "start": "2026-03-02T23:00:00Z",
        "sum": 47.0,
        "min": 47.0,
        "max": 47.0,
        "avg": 47.0,
        "last": 47.0,
        "last_time": "2026-03-02T23:00:00Z",
    }
    # a commit elsewhere keeps the body; a new observation in the range (this process) is seen
    foreign = _foreign_connection(session)
    try:
        foreign.execute("CREATE TABLE IF NOT EXISTS aggregate_test_other (x integer)")
        foreign.execute("INSERT INTO aggregate_test_other VALUES (1)")
        ranges, again = read()
        assert ranges == []
        assert again == first
        ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(hours=47, minutes=30), 1.0)])
        session.commit()
        ranges, changed = read()
        assert len(ranges) == 1
        last = orjson.loads(changed)["buckets"][47]
        assert (last["sum"], last["avg"], last["last_time"]) == (48.0, 24.0, "2026-03-02T23:30:00Z")
        # another process's ingest into the roll-ups (never seen by this process's writer tracking)
        foreign.execute(
            f"UPDATE observation_rollups SET count = count + 1, sum = sum + 2 WHERE datastream_id = {ds.id} "
            "AND interval = 'hour' AND count = 2"
        )
        ranges, changed = read()
        assert len(ranges) == 1
        assert orjson.loads(changed)["buckets"][47]["sum"] == 50.0
    finally:
        foreign.execute("DROP TABLE IF EXISTS aggregate_test_other")
        foreign.close()


def test_latest_cache_never_outlives_a_commit(client: TestClient, session: Session) -> None:
    """The unfiltered body is cached under a database change marker: any commit, by anyone, is seen next."""
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.0)])
    session.commit()

    def latest() -> tuple[Any, str]:
        item = client.get("/api/v1/sensing/latest").json()["items"][0]
        return item["result"], item["thing_name"]

    assert latest() == (1, "Trạm mặn Tân An")
    session.close()
    if session.get_bind().dialect.name == "sqlite":
        # (on PostgreSQL the marker is the cluster's snapshot, which other databases' tests move on)
        with count_statements(session) as statements:
            latest_values(session)  # nothing committed since: served from the cache, no data query
        # (the app's background work may commit meanwhile: then only the shown tables' fingerprint is read)
        assert not any("last_result" in s for s in statements)
        session.rollback()

    # ingest through another connection: the next read has the new value
    ingest_observations(session, [ObservationIn(ds.id, T0 + timedelta(minutes=1), 2.0)])
    session.commit()
    assert latest() == (2, "Trạm mặn Tân An")
    # a metadata change is a commit like any other
    thing = session.get(Thing, ds.thing_id)
    assert thing is not None
    thing.name = "Trạm Tân An mới"
    session.commit()
    assert latest() == (2, "Trạm Tân An mới")
    assert latest() == (2, "Trạm Tân An mới")


def _foreign_connection(session: Session) -> Any:
    """A DBAPI connection opened outside SQLAlchemy, standing for another process's writer."""
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite":
        import sqlite3

        return sqlite3.connect(url.database or "", isolation_level=None)
    import psycopg

    return psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True
    )


def test_latest_keeps_its_body_across_commits_that_touch_no_sensing_table(
    client: TestClient, session: Session
) -> None:
    """An SLA sweep or the outbox relay commits all the time: the body is not read again for those."""
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.0)])
    session.commit()
    first = latest_values(session).body
    session.rollback()
    foreign = _foreign_connection(session)
    try:
        foreign.execute("CREATE TABLE IF NOT EXISTS latest_test_other (x integer)")
        foreign.execute("INSERT INTO latest_test_other VALUES (1)")
        with count_statements(session) as statements:
            again = latest_values(session).body
        session.rollback()
        assert again == first
        assert not any("last_result" in s for s in statements)  # no data query, only the fingerprint
    finally:
        foreign.execute("DROP TABLE IF EXISTS latest_test_other")
        foreign.close()
    assert client.get("/api/v1/sensing/latest").json()["items"][0]["result"] == 1


def test_latest_sees_an_ingest_committed_by_another_process(client: TestClient, session: Session) -> None:
    """Freshness: a sensing write this process never saw (another process's ingest) is in the next body."""
    ds = make_datastream(session)
    other = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.0), ObservationIn(other.id, T0, 5.0)])
    session.commit()
    obs_id = {
        i["datastream_id"]: i["observation_id"] for i in client.get("/api/v1/sensing/latest").json()["items"]
    }
    foreign = _foreign_connection(session)
    try:
        # what an ingest sets on the datastream, written where _SensingWrites cannot see it
        for value in (2.0, 3.0):
            foreign.execute(
                f"UPDATE sta_datastreams SET last_value = {value}, last_observation_id = last_observation_id + 1 "
                f"WHERE id = {ds.id}"
            )
            items = {i["datastream_id"]: i for i in client.get("/api/v1/sensing/latest").json()["items"]}
            assert items[ds.id]["result"] == value
        assert items[ds.id]["observation_id"] == obs_id[ds.id] + 2
        assert items[other.id]["result"] == 5  # an unchanged item is the same
    finally:
        foreign.close()


def test_latest_is_fresh_after_this_process_edits_a_name_under_way(
    client: TestClient, session: Session
) -> None:
    """A rename keeps the fingerprint's counts and sums: this process's writers are tracked until they end,
    so a body read while one was under way is never served after its commit."""
    ds = make_datastream(session)
    ingest_observations(session, [ObservationIn(ds.id, T0, 1.0)])
    session.commit()

    def name() -> str:
        return str(client.get("/api/v1/sensing/latest").json()["items"][0]["thing_name"])

    assert name() == "Trạm mặn Tân An"
    thing = session.get(Thing, ds.thing_id)
    assert thing is not None
    thing.name = "Trạm mặn Tân Ab"  # same length
    session.flush()  # written, not committed: readers still see the old name
    assert name() == "Trạm mặn Tân An"
    session.commit()
    assert name() == "Trạm mặn Tân Ab"
    loc = session.get(Location, session.execute(thing_locations.select()).first().location_id)  # type: ignore[union-attr]
    assert loc is not None
    loc.lat = 10.55
    session.commit()
    assert client.get("/api/v1/sensing/latest").json()["items"][0]["lat"] == 10.55

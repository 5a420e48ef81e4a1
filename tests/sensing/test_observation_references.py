"""What the foreign keys of ``sta_observations`` guaranteed still holds on both backends (on PostgreSQL
the keys are replaced by delete triggers and key-share locks, see :mod:`cityops.sensing.partitioning`):
deleting a Datastream, MultiDatastream, FeatureOfInterest or Thing deletes its Observations; an Observation
naming a missing one is the same 400; a delete concurrent with a write leaves no orphan."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cityops.errors import ApiError
from cityops.sensing.ingest import IngestError, ObservationIn, ingest_observations
from cityops.sensing.models import Datastream, FeatureOfInterest, MultiDatastream, Observation
from cityops.sensing.sta_entities import ENTITIES
from cityops.sensing.sta_write import Writer
from tests.sensing.sta_tree import MEASUREMENT, station, wind
from tests.sensing.test_storage import make_datastream

STA = "/sta/v1.1"
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _thing(client: TestClient, key: dict[str, str], name: str) -> int:
    r = client.post(f"{STA}/Things", json=station(name, 106.41, 10.54, [1.0, 2.0, 3.0]), headers=key)
    assert r.status_code == 201, r.text
    return int(r.json()["@iot.id"])


def _one(client: TestClient, url: str) -> int:
    r = client.get(STA + url)
    assert r.status_code == 200, r.text
    return int(r.json()["value"][0]["@iot.id"])


def _multi(client: TestClient, key: dict[str, str], thing: int) -> int:
    mds = wind(
        thing,
        Sensor={"name": "anemometer", "description": "", "encodingType": "text/html", "metadata": "x"},
        ObservedProperties=[
            {"name": "Wind speed", "definition": "x", "description": "speed"},
            {"name": "Wind direction", "definition": "y", "description": "direction"},
        ],
        Observations=[
            {"phenomenonTime": "2026-03-01T00:00:00Z", "result": [3.5, 270]},
            {"phenomenonTime": "2026-03-01T01:00:00Z", "result": [4.0, 180]},
        ],
    )
    r = client.post(f"{STA}/MultiDatastreams", json=mds, headers=key)
    assert r.status_code == 201, r.text
    return int(r.json()["@iot.id"])


def _count(sessions: sessionmaker[Session], *where: Any) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Observation).where(*where)) or 0)


def test_deletes_remove_the_observations_as_the_foreign_keys_did(
    client: TestClient, key: dict[str, str], admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    keep = _one(client, f"/Things({_thing(client, key, 'Bến Lức')})/Datastreams")
    assert _count(sessions, Observation.datastream_id == keep) == 3
    # Datastream
    ds = _one(client, f"/Things({_thing(client, key, 'A')})/Datastreams")
    assert _count(sessions, Observation.datastream_id == ds) == 3
    assert client.delete(f"{STA}/Datastreams({ds})", headers=admin_headers).status_code == 200
    assert _count(sessions, Observation.datastream_id == ds) == 0
    # FeatureOfInterest (generated for the station's Datastream)
    thing = _thing(client, key, "B")
    ds = _one(client, f"/Things({thing})/Datastreams")
    obs = _one(client, f"/Datastreams({ds})/Observations")
    foi = int(client.get(f"{STA}/Observations({obs})/FeatureOfInterest").json()["@iot.id"])
    assert _count(sessions, Observation.feature_of_interest_id == foi) == 3
    assert client.delete(f"{STA}/FeaturesOfInterest({foi})", headers=admin_headers).status_code == 200
    assert _count(sessions, Observation.feature_of_interest_id == foi) == 0
    assert _count(sessions, Observation.datastream_id == ds) == 0
    # MultiDatastream
    mds = _multi(client, key, _thing(client, key, "C"))
    assert _count(sessions, Observation.multi_datastream_id == mds) == 2
    assert client.delete(f"{STA}/MultiDatastreams({mds})", headers=admin_headers).status_code == 200
    assert _count(sessions, Observation.multi_datastream_id == mds) == 0
    # Thing: its Datastreams and MultiDatastreams go by cascade, and their Observations with them
    thing = _thing(client, key, "D")
    mds = _multi(client, key, thing)
    ds = _one(client, f"/Things({thing})/Datastreams")
    assert client.delete(f"{STA}/Things({thing})", headers=admin_headers).status_code == 200
    assert _count(sessions, Observation.datastream_id == ds) == 0
    assert _count(sessions, Observation.multi_datastream_id == mds) == 0
    # nothing else went
    assert _count(sessions, Observation.datastream_id == keep) == 3


def test_observation_naming_a_missing_reference_is_a_400(
    client: TestClient, key: dict[str, str], admin_headers: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    thing = _thing(client, key, "A")
    ds = _one(client, f"/Things({thing})/Datastreams")
    mds = _multi(client, key, thing)
    obs = _one(client, f"/Datastreams({ds})/Observations")
    before = _count(sessions)
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("post", "/Observations", {"result": 1, "Datastream": {"@iot.id": 999}}, "no Datastream"),
        (
            "post",
            "/Observations",
            {"result": [1, 2], "MultiDatastream": {"@iot.id": 999}},
            "no MultiDatastream",
        ),
        (
            "post",
            "/Observations",
            {"result": 1, "Datastream": {"@iot.id": ds}, "FeatureOfInterest": {"@iot.id": 999}},
            "FeatureOfInterest",
        ),
        (
            "post",
            f"/MultiDatastreams({mds})/Observations",
            {"result": [1, 2], "FeatureOfInterest": {"@iot.id": 999}},
            "no FeatureOfInterest",
        ),
        ("patch", f"/Observations({obs})", {"Datastream": {"@iot.id": 999}}, "no Datastream"),
        ("patch", f"/Observations({obs})", {"FeatureOfInterest": {"@iot.id": 999}}, "no FeatureOfInterest"),
        ("put", f"/Observations({obs})", {"result": 5, "Datastream": {"@iot.id": 999}}, "no Datastream"),
    ]
    for method, url, body, message in cases:
        # Changing a stored Observation is for operators and admins (#21); adding is for the ingest key.
        r = client.request(
            method.upper(), STA + url, json=body, headers=key if method == "post" else admin_headers
        )
        assert r.status_code == 400, (method, url, r.text)
        err = r.json()["error"]
        assert set(err) == {"code", "message"}
        assert message in err["message"], r.text
    # the same inside a JSON $batch, one answer per request
    batch = {
        "requests": [
            {"id": str(n), "method": method, "url": url.lstrip("/"), "body": body}
            for n, (method, url, body, _) in enumerate(cases)
        ]
    }
    r = client.post(f"{STA}/$batch", json=batch, headers={**admin_headers, "Prefer": "continue-on-error"})
    assert r.status_code == 200, r.text
    answers = r.json()["responses"]
    assert [a["status"] for a in answers] == [400] * len(cases), r.text
    for answer, (*_, message) in zip(answers, cases, strict=True):
        assert message in answer["body"]["error"]["message"]
    assert _count(sessions) == before
    with sessions() as s:
        row = s.get(Observation, obs)
        assert row is not None
        assert row.datastream_id == ds


def _pg_only(backend: Any) -> None:
    if backend.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer and keeps the foreign keys")


def _in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # handed to the test thread
            out.append(exc)

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _waiting_for_a_lock(sessions: sessionmaker[Session], n: int = 1) -> None:
    """Until ``n`` other backends of this database wait for a lock (the thread reached its statement)."""
    with sessions() as s:
        for _ in range(500):
            waiting = s.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            if waiting and waiting >= n:
                return
            s.rollback()
            threading.Event().wait(0.01)
    raise AssertionError("the other transaction never waited for the lock")


def _delete(sessions: sessionmaker[Session], model: Any, ident: int) -> None:
    with sessions() as s:
        s.execute(text(f"DELETE FROM {model.__tablename__} WHERE id = :id"), {"id": ident})
        s.commit()


def test_delete_waits_for_an_uncommitted_ingest_and_takes_its_rows(
    sessions: sessionmaker[Session], backend: Any
) -> None:
    """Ingest holds its Datastream and features key-share locked: a delete waits, then its trigger
    deletes the rows the ingest committed (none left referencing the deleted rows)."""
    _pg_only(backend)
    with sessions() as s:
        ds_id = make_datastream(s).id
        s.commit()
    with sessions() as writer:
        ingest_observations(
            writer, [ObservationIn(ds_id, T0 + timedelta(seconds=i), float(i)) for i in range(50)]
        )
        foi_id = writer.scalar(select(Observation.feature_of_interest_id).limit(1))
        assert foi_id is not None
        t, out = _in_thread(lambda: _delete(sessions, Datastream, ds_id))
        _waiting_for_a_lock(sessions)
        writer.commit()
    t.join(10)
    assert out == [None]
    assert _count(sessions, Observation.datastream_id == ds_id) == 0
    # and the same for the FeatureOfInterest, through a second Datastream
    with sessions() as s:
        ds2 = make_datastream(s).id
        s.commit()
    with sessions() as writer:
        ingest_observations(writer, [ObservationIn(ds2, T0, 1.0, feature_of_interest_id=foi_id)])
        t, out = _in_thread(lambda: _delete(sessions, FeatureOfInterest, foi_id))
        _waiting_for_a_lock(sessions)
        writer.commit()
    t.join(10)
    assert out == [None]
    assert _count(sessions, Observation.feature_of_interest_id == foi_id) == 0


def _during_a_datastream_delete(sessions: sessionmaker[Session], ds_id: int, fn: Any) -> list[Any]:
    """Run ``fn`` in a thread while Datastream ``ds_id`` is deleted in an uncommitted transaction, commit
    the delete once ``fn`` waits for its lock; returns what ``fn`` returned or raised."""
    with sessions() as deleter:
        deleter.execute(text("DELETE FROM sta_datastreams WHERE id = :id"), {"id": ds_id})
        t, out = _in_thread(fn)
        _waiting_for_a_lock(sessions)
        deleter.commit()
    t.join(10)
    return out


def test_ingest_after_an_uncommitted_delete_is_refused(sessions: sessionmaker[Session], backend: Any) -> None:
    """A batch for a Datastream being deleted waits for the delete, then fails as an unknown Datastream."""
    _pg_only(backend)
    with sessions() as s:
        ds_id = make_datastream(s).id
        s.commit()

    def ingest() -> Any:
        with sessions() as w:
            ingest_observations(w, [ObservationIn(ds_id, T0, 1.0)])
            w.commit()

    out = _during_a_datastream_delete(sessions, ds_id, ingest)
    assert len(out) == 1
    assert isinstance(out[0], IngestError), out
    assert _count(sessions, Observation.datastream_id == ds_id) == 0


def _multi_rows(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """A MultiDatastream (of a station's Thing) and a FeatureOfInterest, committed."""
    with sessions() as s:
        ds = make_datastream(s)
        mds = MultiDatastream(
            name="w",
            description="",
            units_of_measurement=[{"name": "m/s", "symbol": "m/s", "definition": "ucum:m/s"}],
            observation_type="http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
            multi_observation_data_types=[MEASUREMENT],
            thing_id=ds.thing_id,
            sensor_id=ds.sensor_id,
        )
        foi = FeatureOfInterest(
            name="f", feature={"type": "Point", "coordinates": [106.0, 10.0]}, lat=10.0, lon=106.0
        )
        s.add_all([mds, foi])
        s.commit()
        return mds.id, foi.id


def _writer(s: Session) -> Writer:
    return Writer(s, lambda thing_id: None)


@pytest.mark.parametrize("gone", ["MultiDatastream", "FeatureOfInterest"])
def test_sta_observation_write_and_a_concurrent_delete_leave_no_orphan(
    sessions: sessionmaker[Session], backend: Any, gone: str
) -> None:
    """The STA writer's own Observation rows (a MultiDatastream's; a PATCH) lock what they reference:
    a delete started after waits and takes the row; one started before makes the write a 400."""
    _pg_only(backend)
    mds_id, foi_id = _multi_rows(sessions)
    model = MultiDatastream if gone == "MultiDatastream" else FeatureOfInterest
    victim = mds_id if gone == "MultiDatastream" else foi_id
    body = {"result": [1.0], "MultiDatastream": {"@iot.id": mds_id}, "FeatureOfInterest": {"@iot.id": foi_id}}
    # write first, delete waits, then deletes the written row too
    with sessions() as s:
        obs_id = (
            _writer(s).create(ENTITIES["Observation"], dict(body, phenomenonTime="2026-03-01T00:00:00Z")).id
        )
        t, out = _in_thread(lambda: _delete(sessions, model, victim))
        _waiting_for_a_lock(sessions)
        s.commit()
    t.join(10)
    assert out == [None]
    assert _count(sessions, Observation.id == obs_id) == 0
    # delete first (uncommitted), the write waits and is refused when the delete commits
    mds_id, foi_id = _multi_rows(sessions)
    victim = mds_id if gone == "MultiDatastream" else foi_id
    body = {"result": [1.0], "MultiDatastream": {"@iot.id": mds_id}, "FeatureOfInterest": {"@iot.id": foi_id}}

    def write() -> Any:
        with sessions() as w:
            _writer(w).create(ENTITIES["Observation"], body)
            w.commit()

    with sessions() as deleter:
        # loaded before the delete, as a request that resolved its references just before
        deleter.execute(text(f"DELETE FROM {model.__tablename__} WHERE id = :id"), {"id": victim})
        t, out = _in_thread(write)
        _waiting_for_a_lock(sessions)
        deleter.commit()
    t.join(10)
    assert len(out) == 1
    assert isinstance(out[0], ApiError), out
    assert out[0].status == 400, out[0].message
    assert _count(sessions, Observation.multi_datastream_id == mds_id) == 0


def test_patch_to_a_datastream_being_deleted_is_refused(
    sessions: sessionmaker[Session], backend: Any
) -> None:
    """PATCH moving an Observation to a Datastream whose delete is uncommitted waits for it, then is the
    400 of a missing Datastream; the Observation stays where it was."""
    _pg_only(backend)
    with sessions() as s:
        ds1, ds2 = make_datastream(s).id, make_datastream(s).id
        obs_id = ingest_observations(s, [ObservationIn(ds1, T0, 1.0)]).ids[0]
        s.commit()

    def patch() -> Any:
        with sessions() as w:
            row = w.get(Observation, obs_id)
            _writer(w).update(ENTITIES["Observation"], row, {"Datastream": {"@iot.id": ds2}})
            w.commit()

    out = _during_a_datastream_delete(sessions, ds2, patch)
    assert len(out) == 1
    assert isinstance(out[0], ApiError), out
    assert out[0].status == 400, out[0].message
    assert _count(sessions, Observation.datastream_id == ds1) == 1
    assert _count(sessions, Observation.datastream_id == ds2) == 0

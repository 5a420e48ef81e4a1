"""What an Observation may carry and who may change stored ones (#21 findings 8, 9 and 11), over HTTP on
both backends: results checked against the Datastream's observationType, NaN/infinity refused, a different
value for a stored time answered 409, ingest keys unable to change or delete stored readings, and every
change or delete of a stored Observation audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.audit.models import AuditEntry
from cityops.identity.apikeys import create_api_key
from cityops.sensing.models import Observation
from tests.sensing.sta_tree import station

STA = "/sta/v1.1"
T = "2026-03-01T10:00:00Z"


@pytest.fixture
def ds(client: TestClient, admin_headers: dict[str, str]) -> dict[str, int]:
    """An OM_Measurement Datastream of a station, its Thing, and one stored reading (3.5 at 00:00)."""
    r = client.post(f"{STA}/Things", json=station("Tân An", 106.4, 10.5, [3.5]), headers=admin_headers)
    assert r.status_code == 201, r.text
    thing = r.json()["@iot.id"]
    ds_id = client.get(f"{STA}/Things({thing})/Datastreams").json()["value"][0]["@iot.id"]
    obs = client.get(f"{STA}/Datastreams({ds_id})/Observations").json()["value"][0]["@iot.id"]
    return {"thing": thing, "ds": ds_id, "obs": obs}


@pytest.fixture
def device(sessions: sessionmaker[Session], ds: dict[str, int]) -> dict[str, str]:
    """Headers of a device key: scope ingest, bound to the station's Thing."""
    with sessions() as s:
        _, secret = create_api_key(s, name="logger", scopes=["ingest"], thing_id=ds["thing"])
        s.commit()
    return {"X-API-Key": secret}


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Observation)) or 0)


def _audited(sessions: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with sessions() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


BAD_MEASUREMENTS: list[tuple[bytes, str]] = [
    (b'"12.5"', "a string"),
    (b'"NaN"', "a string"),
    (b'{"value": 1}', "an object"),
    (b"[1]", "an array"),
    (b"true", "a boolean"),
    (b"null", "null"),
    (b"1e999", "infinit"),  # 400 at parsing (orjson); was stored as null
    (b"-1e999", "infinit"),
]


@pytest.mark.parametrize(("result", "said"), BAD_MEASUREMENTS, ids=[r.decode() for r, _ in BAD_MEASUREMENTS])
def test_a_measurement_result_must_be_a_finite_number(
    client: TestClient,
    sessions: sessionmaker[Session],
    device: dict[str, str],
    ds: dict[str, int],
    result: bytes,
    said: str,
) -> None:
    before = _count(sessions)
    body = b'{"phenomenonTime": "' + T.encode() + b'", "result": ' + result + b"}"
    headers = {**device, "content-type": "application/json"}
    r = client.post(f"{STA}/Datastreams({ds['ds']})/Observations", content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert said in r.json()["error"]["message"]
    # The same row in CreateObservations and in a deep insert: refused as a whole, nothing stored.
    array = b'[{"Datastream": {"@iot.id": %d}, "components": ["phenomenonTime", "result"], "dataArray": [["2026-03-01T11:00:00Z", 1.5], ["%s", %s]]}]' % (
        ds["ds"], T.encode(), result
    )  # fmt: skip
    r = client.post(f"{STA}/CreateObservations", content=array, headers=headers)
    assert r.status_code == 400, r.text
    assert "dataArray[1]" in r.json()["error"]["message"] or "infinity" in r.json()["error"]["message"]
    assert _count(sessions) == before


def test_numbers_are_measurements_and_other_types_keep_their_results(
    client: TestClient, admin_headers: dict[str, str], device: dict[str, str], ds: dict[str, int]
) -> None:
    url = f"{STA}/Datastreams({ds['ds']})/Observations"
    assert client.post(url, json={"phenomenonTime": T, "result": 7}, headers=device).status_code == 201
    # A Datastream of another type takes what its type allows (OM_Observation: any JSON).
    body = {
        "name": "notes", "description": "free text", "observationType":
        "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Observation",
        "unitOfMeasurement": {"name": None, "symbol": None, "definition": None},
        "Thing": {"@iot.id": ds["thing"]},
        "Sensor": {"name": "eye", "description": "", "encodingType": "text/html", "metadata": "x"},
        "ObservedProperty": {"name": "note", "definition": "urn:note", "description": ""},
    }  # fmt: skip
    r = client.post(f"{STA}/Datastreams", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    notes = f"{STA}/Datastreams({r.json()['@iot.id']})/Observations"
    assert (
        client.post(notes, json={"phenomenonTime": T, "result": {"k": "v"}}, headers=device).status_code
        == 201
    )
    r = client.post(
        notes, content=b'{"result": {"k": 1e999}}', headers={**device, "content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "infinit" in r.json()["error"]["message"]


def test_a_different_value_for_a_stored_time_is_a_conflict(
    client: TestClient, sessions: sessionmaker[Session], device: dict[str, str], ds: dict[str, int]
) -> None:
    url = f"{STA}/Datastreams({ds['ds']})/Observations"
    first = client.post(url, json={"phenomenonTime": T, "result": 2.5}, headers=device)
    assert first.status_code == 201
    # The same value again is a retry: answered as the first time, with the stored Observation.
    again = client.post(url, json={"phenomenonTime": T, "result": 2.5}, headers=device)
    assert again.status_code == 201
    assert again.json()["@iot.id"] == first.json()["@iot.id"]
    count = _count(sessions)
    other = client.post(url, json={"phenomenonTime": T, "result": 9.0}, headers=device)
    assert other.status_code == 409, other.text
    assert other.json()["error"]["code"] == "conflict"
    rows = [
        {"Datastream": {"@iot.id": ds["ds"]}, "components": ["phenomenonTime", "result"],
         "dataArray": [["2026-03-01T12:00:00Z", 1.0], [T, 9.0]]}
    ]  # fmt: skip
    r = client.post(f"{STA}/CreateObservations", json=rows, headers=device)
    assert r.status_code == 409, r.text
    assert "rows 1" in r.json()["error"]["message"]
    assert _count(sessions) == count  # the 12:00 row of the refused request is not stored either
    assert client.get(f"{STA}/Observations({first.json()['@iot.id']})/result/$value").text == "2.5"


def test_a_device_key_may_add_but_not_change_or_delete_readings(
    client: TestClient,
    sessions: sessionmaker[Session],
    admin_headers: dict[str, str],
    device: dict[str, str],
    key: dict[str, str],
    ds: dict[str, int],
) -> None:
    obs = f"{STA}/Observations({ds['obs']})"
    for headers in (device, key):  # bound to the Thing, or any ingest key
        assert client.patch(obs, json={"result": 99}, headers=headers).status_code == 403
        assert client.put(obs, json={"result": 99, "phenomenonTime": T}, headers=headers).status_code == 403
        assert client.delete(obs, headers=headers).status_code == 403
        assert client.delete(f"{STA}/Datastreams({ds['ds']})", headers=headers).status_code == 403
    assert client.get(f"{obs}/result/$value").text == "3.5"
    assert _audited(sessions, "observation.update") == []
    # Operators and admins may correct and delete; each change is audited with before and after.
    r = client.patch(obs, json={"result": 3.25}, headers=admin_headers)
    assert r.status_code == 200, r.text
    (entry,) = _audited(sessions, "observation.update")
    assert (entry.target_type, entry.target_id) == ("observation", str(ds["obs"]))
    assert entry.before is not None
    assert entry.after is not None
    assert (entry.before["result"], entry.after["result"]) == (3.5, 3.25)
    assert entry.actor_type == "user"
    assert client.delete(obs, headers=admin_headers).status_code == 200
    (gone,) = _audited(sessions, "observation.delete")
    assert gone.before is not None
    assert gone.before["result"] == 3.25
    assert client.delete(f"{STA}/Datastreams({ds['ds']})", headers=admin_headers).status_code == 200
    assert len(_audited(sessions, "sta.datastream.delete")) == 1


def test_patching_a_result_is_checked_like_creating_one(
    client: TestClient, admin_headers: dict[str, str], ds: dict[str, int]
) -> None:
    obs = f"{STA}/Observations({ds['obs']})"
    r: Any = client.patch(obs, json={"result": "high"}, headers=admin_headers)
    assert r.status_code == 400
    assert client.get(f"{obs}/result/$value").text == "3.5"

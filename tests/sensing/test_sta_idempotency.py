"""``Idempotency-Key`` on SensorThings POSTs: a retry returns the entity of the first attempt."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.idempotency import IdempotencyRecord
from cityops.identity.apikeys import create_api_key
from tests.sensing.sta_tree import station

STA = "/sta/v1.1"


@pytest.fixture
def keys(sessions: sessionmaker[Session]) -> tuple[dict[str, str], dict[str, str], int]:
    """Two ingest keys (headers) and the first key's id."""
    with sessions() as s:
        row, one = create_api_key(s, name="gateway", scopes=["ingest"])
        _, two = create_api_key(s, name="other", scopes=["ingest"])
        s.commit()
        return {"X-API-Key": one}, {"X-API-Key": two}, row.id


@pytest.fixture
def tree(client: TestClient, keys: tuple[dict[str, str], dict[str, str], int]) -> None:
    r = client.post(f"{STA}/Things", json=station("Tân An", 106.41, 10.54, [1.0]), headers=keys[0])
    assert r.status_code == 201, r.text


def count(client: TestClient) -> int:
    return int(client.get(f"{STA}/Datastreams(1)/Observations?$count=true&$top=0").json()["@iot.count"])


def post(
    client: TestClient,
    headers: dict[str, str],
    key: str | None,
    body: Any,
    url: str = "Datastreams(1)/Observations",
) -> Any:
    extra = {"Idempotency-Key": key} if key is not None else {}
    return client.post(f"{STA}/{url}", json=body, headers={**headers, **extra})


def test_a_retried_observation_without_phenomenon_time_is_not_a_duplicate(
    client: TestClient,
    tree: None,
    keys: tuple[dict[str, str], dict[str, str], int],
    sessions: sessionmaker[Session],
) -> None:
    mine, other, key_id = keys
    # The problem: without a key, the server's time makes each retry a new Observation.
    assert post(client, mine, None, {"result": 3}).status_code == 201
    assert post(client, mine, None, {"result": 3}).status_code == 201
    assert count(client) == 3
    first = post(client, mine, "3f1c2a9e-retry-1", {"result": 5})
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = post(client, mine, "3f1c2a9e-retry-1", {"result": 5})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.json()["@iot.selfLink"]
    assert count(client) == 4
    # Keys belong to their caller: another key's identical request is its own Observation.
    theirs = post(client, other, "3f1c2a9e-retry-1", {"result": 5})
    assert theirs.status_code == 201
    assert theirs.json()["@iot.id"] != first.json()["@iot.id"]
    assert count(client) == 5
    # The same key for another request is refused (OData error shape) and changes nothing.
    clash = post(client, mine, "3f1c2a9e-retry-1", {"result": 6})
    assert clash.status_code == 409
    assert set(clash.json()["error"]) == {"code", "message"}
    assert count(client) == 5
    with sessions() as s:
        scopes = set(s.scalars(select(IdempotencyRecord.scope)))
        assert f"sta:key:{key_id}" in scopes


def test_deep_insert_and_batch_retries(
    client: TestClient, tree: None, keys: tuple[dict[str, str], dict[str, str], int]
) -> None:
    mine = keys[0]
    body = station("Bến Lức", 106.49, 10.64, [0.2])
    first = post(client, mine, "thing-ben-luc-0001", body, url="Things")
    again = post(client, mine, "thing-ben-luc-0001", body, url="Things")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["@iot.id"] == first.json()["@iot.id"]
    assert client.get(f"{STA}/Things?$count=true").json()["@iot.count"] == 2
    # Inside a JSON batch, a request's own headers carry the key.
    batch = {
        "requests": [
            {"id": "o", "method": "post", "url": "Datastreams(1)/Observations", "body": {"result": 9},
             "headers": {"Idempotency-Key": "batch-obs-000001"}},
        ]
    }  # fmt: skip
    before = count(client)
    answers = [
        client.post(f"{STA}/$batch", json=batch, headers=mine).json()["responses"][0] for _ in range(2)
    ]
    assert [a["status"] for a in answers] == [201, 201]
    assert answers[0]["body"]["@iot.id"] == answers[1]["body"]["@iot.id"]
    assert answers[1]["headers"]["idempotent-replayed"] == "true"
    assert count(client) == before + 1


@pytest.mark.parametrize("key", ["", "x" * 201, "bad\tkey", "khóa"])
def test_invalid_keys_are_refused(
    client: TestClient, tree: None, keys: tuple[dict[str, str], dict[str, str], int], key: str
) -> None:
    r = client.post(
        f"{STA}/Datastreams(1)/Observations",
        json={"result": 1},
        headers={**keys[0], "Idempotency-Key": key.encode()},  # bytes: httpx sends them as they are
    )
    assert r.status_code == 400, r.text
    assert "Idempotency-Key" in r.json()["error"]["message"]
    assert count(client) == 1


def test_losing_the_race_to_commit_answers_with_the_winner(
    client: TestClient,
    tree: None,
    keys: tuple[dict[str, str], dict[str, str], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two retries in flight at once: the second looked the key up before the first committed, so its
    own insert of the key fails; it rolls back and answers with what the first stored."""
    from cityops.sensing import sta_idempotency

    mine = keys[0]
    first = post(client, mine, "race-0000000001", {"result": 2})
    assert first.status_code == 201
    real_find = sta_idempotency.find
    calls: list[int] = []

    def find_missing_once(session: Any, claim: Any) -> Any:
        calls.append(1)
        return None if len(calls) == 1 else real_find(session, claim)

    monkeypatch.setattr(sta_idempotency, "find", find_missing_once)
    for url in ("Datastreams(1)/Observations", "$batch"):
        calls.clear()
        if url == "$batch":
            batch = {"requests": [{"id": "o", "method": "post", "url": "Datastreams(1)/Observations",
                                   "body": {"result": 2}, "headers": {"Idempotency-Key": "race-0000000001"}}]}  # fmt: skip
            answer = client.post(f"{STA}/$batch", json=batch, headers=mine).json()["responses"][0]
            status, body = answer["status"], answer["body"]
        else:
            r = post(client, mine, "race-0000000001", {"result": 2})
            status, body = r.status_code, r.json()
        assert len(calls) == 2  # the lookup that missed, then the replay
        assert status == 201
        assert body["@iot.id"] == first.json()["@iot.id"]
    assert count(client) == 2

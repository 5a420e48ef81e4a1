"""SensorThings batch requests (OGC 18-088 §12) at ``/sta/v1.1/$batch``, on both backends.

Multipart answers are read with the standard library's MIME parser (``email``), not with the server's
own code, so the framing is checked independently.
"""

from __future__ import annotations

import email
import email.policy
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.identity.apikeys import create_api_key
from cityops.settings import Settings
from tests.sensing.sta_tree import MEASUREMENT, station

STA = "/sta/v1.1"
BATCH = f"{STA}/$batch"
GO_ON = {"Prefer": "odata.continue-on-error"}


@pytest.fixture
def tree(client: TestClient, key: dict[str, str]) -> int:
    """One station (Thing 1, Datastream 1 with three Observations); returns the Thing's id."""
    r = client.post(f"{STA}/Things", json=station("Tân An", 106.41, 10.54, [1.0, 4.5, 2.0]), headers=key)
    assert r.status_code == 201, r.text
    return int(r.json()["@iot.id"])


def http(method: str, url: str, body: Any = None, content_id: str | None = None, **headers: str) -> str:
    """One application/http part (request line, headers, body)."""
    head = ["Content-Type: application/http", "Content-Transfer-Encoding: binary"]
    if content_id is not None:
        head.append(f"Content-ID: {content_id}")
    lines = [f"{method} {url} HTTP/1.1", "Host: example.org"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    text = ""
    if body is not None:
        text = json.dumps(body, ensure_ascii=False)
        lines.append("Content-Type: application/json")
    return "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n" + text


def multipart(parts: list[str], boundary: str) -> str:
    return "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n"


def changeset(parts: list[str], boundary: str = "changeset_77162fcd") -> str:
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n" + multipart(parts, boundary)


def send(client: TestClient, parts: list[str], headers: dict[str, str] | None = None) -> Any:
    body = multipart(parts, "batch_36522ad7").encode()
    return client.post(
        BATCH,
        content=body,
        headers={"Content-Type": "multipart/mixed; boundary=batch_36522ad7", **(headers or {})},
    )


def parse(response: Any) -> list[Any]:
    """The answer's parts: an inner response is (status, headers, json-or-text body, Content-ID); a
    change set's answer is the list of those."""
    assert response.status_code == 200, response.text
    ctype = response.headers["content-type"]
    assert ctype.startswith("multipart/mixed; boundary=")
    msg = email.message_from_bytes(
        f"Content-Type: {ctype}\r\n\r\n".encode() + response.content, policy=email.policy.HTTP
    )
    assert msg.is_multipart()
    return [_part(p) for p in msg.iter_parts()]


def _part(part: Any) -> Any:
    if part.get_content_type() == "multipart/mixed":
        return [_part(p) for p in part.iter_parts()]
    assert part.get_content_type() == "application/http"
    raw = part.get_payload(decode=True)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    assert status_line.startswith("HTTP/1.1 ")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    parsed: Any = body.decode()
    if "json" in headers.get("content-type", "") and body:
        parsed = json.loads(body)
    return int(status_line.split()[1]), headers, parsed, part.get("Content-ID")


def count(client: TestClient, url: str) -> int:
    return int(client.get(f"{STA}/{url}?$count=true&$top=0").json()["@iot.count"])


THING = {"name": "Bến Lức", "description": "trạm mặn"}
DATASTREAM = {
    "name": "salinity",
    "description": "at 1 m",
    "unitOfMeasurement": {"name": "gram per litre", "symbol": "g/L", "definition": "ucum:g/L"},
    "observationType": MEASUREMENT,
    "Sensor": {"@iot.id": 1},
    "ObservedProperty": {"@iot.id": 1},
}


def test_reads_and_change_set_with_content_id_references(
    client: TestClient, tree: int, key: dict[str, str]
) -> None:
    parts = [
        http("GET", f"Things({tree})?$select=name"),
        changeset(
            [
                http("POST", "Things", THING, content_id="1"),
                http("POST", "$1/Datastreams", DATASTREAM, content_id="2"),
                http("POST", "$2/Observations", {"phenomenonTime": "2026-03-01T00:00:00Z", "result": 0.3}),
                http("PATCH", "$1", {"description": "đã đổi"}),
            ]
        ),
        http("GET", "/sta/v1.1/Things?$orderby=id&$select=name,description"),
        http("GET", "http://testserver/sta/v1.1/Datastreams(1)/Observations/$ref?$top=1&$orderby=id"),
        http("GET", "Things?$filter=name eq 'Bến Lức'&$select=name"),  # spaces left unencoded
    ]
    answers = parse(send(client, parts, key))
    assert len(answers) == 5
    status, headers, body, _ = answers[0]
    assert (status, body) == (200, {"name": "Tân An"})
    assert headers["content-type"] == "application/json"
    created = answers[1]
    assert [a[0] for a in created] == [201, 201, 201, 200]
    assert [a[3] for a in created] == ["1", "2", None, None]
    thing, ds, obs, patched = (a[2] for a in created)
    assert created[0][1]["location"] == thing["@iot.selfLink"]
    assert thing["name"] == "Bến Lức"
    assert created[1][1]["location"].endswith(f"/Datastreams({ds['@iot.id']})")
    assert obs["result"] == 0.3
    assert patched["description"] == "đã đổi"
    # The later GETs see the committed change set, in order.
    assert answers[2][2]["value"] == [
        {"name": "Tân An", "description": "trạm quan trắc Tân An"},
        {"name": "Bến Lức", "description": "đã đổi"},
    ]
    assert answers[3][2]["value"] == [{"@iot.selfLink": "http://testserver/sta/v1.1/Observations(1)"}]
    assert answers[4][2]["value"] == [{"name": "Bến Lức"}]
    r = client.get(f"{STA}/Datastreams({ds['@iot.id']})/Thing")
    assert r.json()["@iot.id"] == thing["@iot.id"]
    assert count(client, f"Datastreams({ds['@iot.id']})/Observations") == 1


def test_a_failing_change_set_keeps_nothing_and_others_go_on(
    client: TestClient, tree: int, key: dict[str, str]
) -> None:
    things, datastreams = count(client, "Things"), count(client, "Datastreams")
    parts = [
        http("POST", "Things", {"name": "kept", "description": "alone"}),
        changeset(
            [
                http("POST", "Things", THING, content_id="a"),
                http("POST", "$a/Datastreams", DATASTREAM, content_id="b"),
                http(
                    "POST", "$b/Observations", {"result": 1, "phenomenonTime": "not a time"}, content_id="c"
                ),
            ]
        ),
        http("POST", "Things", {"name": "x"}),  # missing description: fails alone
        http("DELETE", "Things(999)"),
    ]
    r = send(client, parts, {**key, **GO_ON})
    assert r.headers["preference-applied"] == "odata.continue-on-error"
    answers = parse(r)
    assert answers[0][0] == 201
    # The failed change set answers with its one failure, not a nested multipart.
    status, _headers, body, content_id = answers[1]
    assert (status, content_id) == (400, "c")
    assert set(body["error"]) == {"code", "message"}
    assert "phenomenonTime" in body["error"]["message"]
    assert answers[2][0] == 400
    assert "description" in answers[2][2]["error"]["message"]
    assert answers[3][0] == 404
    assert count(client, "Things") == things + 1  # only "kept"
    assert count(client, "Datastreams") == datastreams
    names = [t["name"] for t in client.get(f"{STA}/Things").json()["value"]]
    assert "Bến Lức" not in names
    assert "kept" in names


def test_each_inner_request_is_authorised_as_the_caller(
    client: TestClient, tree: int, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        _, reader = create_api_key(s, name="reader", scopes=["read"])
        _, bound = create_api_key(s, name="logger", scopes=["ingest"], thing_id=tree)
        s.commit()
    obs = {"phenomenonTime": "2026-03-05T00:00:00Z", "result": 7}
    parts = [
        http("GET", "Things"),
        http("POST", "Datastreams(1)/Observations", obs),
        http("POST", "Things", THING),
        http("PATCH", f"Things({tree})", {"name": "hijacked"}),
        http("DELETE", f"Things({tree})"),
    ]
    anonymous = parse(send(client, parts, GO_ON))
    assert [a[0] for a in anonymous] == [200, 401, 401, 401, 401]
    assert set(anonymous[1][2]["error"]) == {"code", "message"}
    wrong = parse(send(client, parts, {"X-API-Key": "not a key", **GO_ON}))
    assert [a[0] for a in wrong] == [200, 401, 401, 401, 401]  # a GET needs no credentials, as alone
    assert [a[0] for a in parse(send(client, parts, {"X-API-Key": reader, **GO_ON}))] == [
        200,
        403,
        403,
        403,
        403,
    ]
    # A key bound to the Thing may add its Observations, and nothing else.
    assert [a[0] for a in parse(send(client, parts, {"X-API-Key": bound, **GO_ON}))] == [
        200,
        201,
        403,
        403,
        403,
    ]
    # Credentials inside a part do not change who asks.
    sneaky = [http("POST", "Things", THING, X_API_Key=bound)]
    assert parse(send(client, sneaky))[0][0] == 401
    assert client.get(f"{STA}/Things({tree})").json()["name"] == "Tân An"
    assert count(client, "Things") == 1
    # In a change set, one refusal rolls back what the caller was allowed to do before it.
    cs = changeset(
        [
            http("POST", "Datastreams(1)/Observations", {**obs, "phenomenonTime": "2026-03-06T00:00:00Z"}),
            http("POST", "Things", THING),
        ]
    )
    status, _, _body, _ = parse(send(client, [cs], {"X-API-Key": bound}))[0]
    assert status == 403
    assert count(client, "Datastreams(1)/Observations") == 4  # three from the tree and the 7 above


def test_create_observations_alone_but_not_in_a_change_set(
    client: TestClient, tree: int, key: dict[str, str]
) -> None:
    arrays = [
        {
            "Datastream": {"@iot.id": 1},
            "components": ["phenomenonTime", "result"],
            "dataArray": [["2026-03-02T00:00:00Z", 5], ["2026-03-02T01:00:00Z", 6]],
        }
    ]
    answers = parse(send(client, [http("POST", "CreateObservations", arrays)], key))
    status, _, links, _ = answers[0]
    assert status == 201
    assert len(links) == 2
    assert all(link.startswith("http://testserver/sta/v1.1/Observations(") for link in links)
    answers = parse(send(client, [changeset([http("POST", "CreateObservations", arrays)])], key))
    assert answers[0][0] == 400
    assert "change set" in answers[0][2]["error"]["message"]
    assert count(client, "Datastreams(1)/Observations") == 5


def test_json_batch_atomicity_groups_depends_on_and_references(
    client: TestClient, tree: int, key: dict[str, str]
) -> None:
    things = count(client, "Things")
    batch: dict[str, list[dict[str, Any]]] = {
        "requests": [
            {"id": "0", "method": "get", "url": f"Things({tree})?$select=name"},
            {"id": "sensor1", "atomicityGroup": "g1", "method": "post", "url": "Sensors",
             "body": {"name": "DS18B20", "description": "air temperature", "encodingType": "application/pdf",
                      "metadata": "http://example.org/ds18b20.pdf"}},
            {"id": "ds", "atomicityGroup": "g1", "method": "post", "url": f"Things({tree})/Datastreams",
             "body": {**DATASTREAM, "Sensor": {"@iot.id": "$sensor1"}}},
            {"id": "obs", "method": "post", "url": "$ds/Observations", "dependsOn": ["g1"],
             "body": {"phenomenonTime": "2026-03-01T00:00:00Z", "result": 21.5}},
            {"id": "bad1", "atomicityGroup": "g2", "method": "post", "url": "Things", "body": THING},
            {"id": "bad2", "atomicityGroup": "g2", "method": "post", "url": "Things", "body": {"name": "x"}},
            {"id": "after", "method": "patch", "url": f"Things({tree})", "dependsOn": ["g2"],
             "body": {"name": "never"}},
            {"id": "missing", "method": "get", "url": "Things(999)"},
        ]
    }  # fmt: skip
    r = client.post(BATCH, json=batch, headers={**key, "Prefer": "continue-on-error"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    out = {x["id"]: x for x in r.json()["responses"]}
    assert [x["id"] for x in r.json()["responses"]] == [q["id"] for q in batch["requests"]]
    assert out["0"]["status"] == 200
    assert out["0"]["body"] == {"name": "Tân An"}
    assert out["sensor1"]["status"] == 201
    assert out["sensor1"]["atomicityGroup"] == "g1"
    sensor_id = out["sensor1"]["body"]["@iot.id"]
    assert out["ds"]["status"] == 201
    assert out["ds"]["headers"]["location"] == out["ds"]["body"]["@iot.selfLink"]
    ds_id = out["ds"]["body"]["@iot.id"]
    assert client.get(f"{STA}/Datastreams({ds_id})/Sensor").json()["@iot.id"] == sensor_id
    assert out["obs"]["status"] == 201
    assert client.get(f"{STA}/Datastreams({ds_id})/Observations").json()["value"][0]["result"] == 21.5
    # g2 failed at bad2: bad1 was rolled back and answers 424; "after" depends on g2 and did not run.
    assert out["bad2"]["status"] == 400
    assert out["bad1"]["status"] == 424
    assert out["bad1"]["body"]["error"]["code"] == "failed_dependency"
    assert out["after"]["status"] == 424
    assert out["missing"]["status"] == 404
    assert set(out["missing"]["body"]["error"]) == {"code", "message"}
    assert count(client, "Things") == things
    assert client.get(f"{STA}/Things({tree})").json()["name"] == "Tân An"


BAD_BATCHES: list[tuple[str, bytes, int, str]] = [
    ("multipart/mixed", b"--x\r\n\r\n--x--", 400, "boundary"),
    ("multipart/mixed; boundary=x", b"no parts here", 400, "no part"),
    ("multipart/mixed; boundary=x", b"--x\r\nContent-Type: application/http\r\n\r\nGET Things HTTP/1.1\r\n", 400,
     "closing boundary"),
    ("multipart/mixed; boundary=x", b"--x\r\nContent-Type: text/plain\r\n\r\nhello\r\n--x--\r\n", 400,
     "application/http"),
    ("multipart/mixed; boundary=x",
     multipart([changeset([http("GET", "Things")], "cs")], "x").encode(), 400, "change set holds only"),
    ("application/json", b'{"requests": [{"id": "1", "method": "get"}]}', 400, "url"),
    ("application/json", b'{"requests": [{"id": "1", "method": "get", "url": "Things"},'
                         b' {"id": "1", "method": "get", "url": "Things"}]}', 400, "twice"),
    ("application/json", b'{"requests": [{"id": "1", "method": "get", "url": "Things", "dependsOn": ["2"]}]}',
     400, "no earlier request"),
    ("application/json", b'{"requests": []}', 400, "no request"),
    ("application/json", b'{"requests": [{"id": "a", "atomicityGroup": "g", "method": "post", "url": "Things"},'
                         b' {"id": "b", "method": "get", "url": "Things"},'
                         b' {"id": "c", "atomicityGroup": "g", "method": "post", "url": "Things"}]}',
     400, "adjacent"),
    ("text/plain", b"GET Things", 415, "multipart/mixed"),
]  # fmt: skip


def test_malformed_batches_are_refused_whole_and_change_nothing(
    client: TestClient, tree: int, key: dict[str, str], app: FastAPI, settings: Settings
) -> None:
    things = count(client, "Things")
    for content_type, body, status, fragment in BAD_BATCHES:
        r = client.post(BATCH, content=body, headers={**key, "Content-Type": content_type})
        assert r.status_code == status, (content_type, body, r.text)
        err = r.json()["error"]
        assert set(err) == {"code", "message"}
        assert fragment in err["message"], (fragment, err)
    # More requests than allowed: 413 before any of them runs.
    app.state.settings = settings.model_copy(update={"sta_batch_max_requests": 2})  # read per request
    parts = [http("POST", "Things", {"name": f"t{i}", "description": "d"}) for i in range(3)]
    r = send(client, parts, key)
    assert r.status_code == 413
    assert "at most 2" in r.json()["error"]["message"]
    assert count(client, "Things") == things


def test_without_continue_on_error_the_batch_stops_at_the_first_failure(
    client: TestClient, tree: int, key: dict[str, str]
) -> None:
    """OData 4.0 §8.2.8.3: the failure is the last answer; what follows is not run."""
    things = count(client, "Things")
    parts = [
        http("POST", "Things", {"name": "first", "description": "kept"}),
        changeset([http("POST", "Things", THING), http("PATCH", "Things(999)", {"name": "x"})]),
        http("POST", "Things", {"name": "after", "description": "never run"}),
    ]
    r = send(client, parts, key)
    assert "preference-applied" not in r.headers
    answers = parse(r)
    assert [a[0] for a in answers] == [201, 404]
    assert count(client, "Things") == things + 1
    batch = {
        "requests": [
            {"id": "1", "method": "get", "url": "Things(999)"},
            {"id": "2", "method": "post", "url": "Things", "body": {"name": "after", "description": "d"}},
        ]
    }
    out = client.post(BATCH, json=batch, headers=key).json()["responses"]
    assert [(a["id"], a["status"]) for a in out] == [("1", 404)]
    assert count(client, "Things") == things + 1


def test_json_batch_can_name_a_fetched_entity(client: TestClient, tree: int, key: dict[str, str]) -> None:
    batch = {
        "requests": [
            {"id": "station", "method": "get", "url": f"Things({tree})"},
            {"id": "rename", "method": "patch", "url": "$station", "body": {"name": "Trạm Tân An"}},
            {"id": "ds", "method": "post", "url": "$station/Datastreams", "body": DATASTREAM},
        ]
    }
    out = client.post(BATCH, json=batch, headers=key).json()["responses"]
    assert [a["status"] for a in out] == [200, 200, 201]
    assert client.get(f"{STA}/Things({tree})").json()["name"] == "Trạm Tân An"
    assert count(client, f"Things({tree})/Datastreams") == 2


def test_bare_line_feeds_and_a_quoted_boundary_are_accepted(client: TestClient, tree: int) -> None:
    body = (
        "preamble, ignored\n"
        "--b-1\nContent-Type: application/http\n\nGET Things(1)?$select=name HTTP/1.1\n\n\n"
        "--b-1\nContent-Type: application/http\n\nGET Nothing HTTP/1.1\n\n"
        "--b-1--\nepilogue, ignored\n"
    )
    r = client.post(
        BATCH, content=body.encode(), headers={"Content-Type": 'multipart/mixed;boundary="b-1"', **GO_ON}
    )
    answers = parse(r)
    assert len(answers) == 2
    assert (answers[0][0], answers[0][2]) == (200, {"name": "Tân An"})
    assert answers[1][0] == 404

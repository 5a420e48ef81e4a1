"""``$count`` of Observations filtered on a phenomenonTime window: the same total whichever plan counts it.

On SQLite the count of a time window is summed per datastream over the ``(datastream_id, phenomenon_time)``
index (plus the MultiDatastreams' observations, which have no datastream), instead of scanning the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.sensing.sta_tree import MEASUREMENT, station
from tests.sensing.test_sta_api import STA, get


@contextmanager
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


@pytest.fixture
def observed(client: TestClient, key: dict[str, str]) -> list[dict[str, Any]]:
    """Three datastreams (one with no observations) and a MultiDatastream, all on 2026-03-01."""
    things = [
        station("Tân An", 106.41, 10.54, [1.0, 4.5, 2.0, 31.0, 40.0]),
        station("Bến Lức", 106.49, 10.64, [35.0, 0.4], start_hour=3),
        station("Cần Giuộc", 106.6, 10.6, []),
    ]
    ids = []
    for body in things:
        r = client.post(f"{STA}/Things", json=body, headers=key)
        assert r.status_code == 201, r.text
        ids.append(r.json()["@iot.id"])
    mds = {
        "name": "weather",
        "description": "wind",
        "unitOfMeasurements": [{"name": "m/s", "symbol": "m/s", "definition": "ucum:m/s"}],
        "multiObservationDataTypes": [MEASUREMENT],
        "Thing": {"@iot.id": ids[0]},
        "Sensor": {"@iot.id": 1},
        "ObservedProperties": [{"name": "Wind", "definition": "x", "description": "wind"}],
        "Observations": [
            {"phenomenonTime": f"2026-03-01T0{h}:30:00Z", "result": [float(h)]} for h in range(5)
        ],
    }
    r = client.post(f"{STA}/MultiDatastreams", json=mds, headers=key)
    assert r.status_code == 201, r.text
    everything = get(client, "/Observations?$top=1000")["value"]
    assert len(everything) == 12
    return list(everything)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ("phenomenonTime ge 2026-03-01T01:00:00Z and phenomenonTime lt 2026-03-01T04:00:00Z", None),
        ("phenomenonTime gt 2026-03-01T03:00:00Z", None),
        (
            "result gt 30 and phenomenonTime ge 2026-03-01T00:00:00Z and phenomenonTime le 2026-03-01T04:00:00Z",
            3,
        ),
        ("phenomenonTime eq 2026-03-01T03:00:00Z", 2),
        ("phenomenonTime ge 2026-03-02T00:00:00Z", 0),
        (
            "(phenomenonTime lt 2026-03-01T01:00:00Z or result gt 30) and phenomenonTime lt 2026-03-01T04:00:00Z",
            4,
        ),
    ],
)
def test_count_of_a_time_window_counts_every_observation_once(
    client: TestClient, observed: list[dict[str, Any]], flt: str, expected: int | None
) -> None:
    with statements() as seen:
        body = get(client, f"/Observations?$filter={flt}&$count=true&$top=2")
    listed = get(client, f"/Observations?$filter={flt}&$top=1000")["value"]
    assert body["@iot.count"] == len(listed)
    if expected is not None:
        assert body["@iot.count"] == expected
    assert len(body["value"]) == min(2, len(listed))
    counts = [s for s in seen if "count(" in s.lower()]
    per_datastream = any("sta_datastreams" in s for s in counts)
    sqlite = client.app.state.engine.dialect.name == "sqlite"  # type: ignore[attr-defined]
    assert per_datastream == sqlite


def test_a_window_within_one_datastream_and_without_time_keeps_the_plain_count(
    client: TestClient, observed: list[dict[str, Any]]
) -> None:
    ds = get(client, "/Datastreams?$filter=name eq 'Tân An salinity'")["value"][0]["@iot.id"]
    flt = "phenomenonTime ge 2026-03-01T01:00:00Z"
    body = get(client, f"/Datastreams({ds})/Observations?$filter={flt}&$count=true")
    assert body["@iot.count"] == 4
    body = get(client, "/Observations?$filter=result gt 30&$count=true")
    assert body["@iot.count"] == 3

"""The ``observations.created`` payload: columnar (version 2), and version 1 still readable."""

from __future__ import annotations

import orjson
import pytest

from cityops.sensing.observation_events import CreatedObservations, created_payload, read_created


def test_version_2_is_columnar_and_reads_back() -> None:
    obs = CreatedObservations(
        ids=[11, 12, 13],
        datastreams=[7, 9, 7],
        phenomenon_times=["2026-03-01T10:00:00Z", "2026-03-01T10:00:01Z", "2026-03-01T10:00:02.5Z"],
        results=[1.5, 2, {"text": "mưa"}],
        quality_flags=[0, 4, 0],
    )
    payload = orjson.loads(orjson.dumps(created_payload(obs, chunk=1, chunks=3)))
    assert payload["v"] == 2
    assert (payload["count"], payload["chunk"], payload["chunks"]) == (3, 1, 3)
    assert payload["datastream_ids"] == [7, 9]
    assert payload["ids"] == [11, 12, 13]
    assert "observations" not in payload
    back = read_created(payload, flagged=True)  # every row, flagged ones too
    assert list(back.ids) == [11, 12, 13]
    assert list(back.datastreams) == [7, 9, 7]
    assert list(back.results) == [1.5, 2, {"text": "mưa"}]
    assert list(back.quality_flags) == [0, 4, 0]
    assert len(back) == 3


def test_version_1_payloads_written_before_the_upgrade_are_read() -> None:
    payload = {
        "count": 3,
        "observations": [
            {
                "id": 1,
                "datastream_id": 7,
                "phenomenon_time": "2026-03-01T10:00:00Z",
                "result": 1.5,
                "quality_flags": 4,
            },
            {"datastream_id": 8, "phenomenon_time": "2026-03-01T10:00:00Z", "result": "x"},
            {"id": 3, "phenomenon_time": "2026-03-01T10:00:00Z", "result": 2.0},  # no datastream: skipped
        ],
    }
    back = read_created(payload, flagged=True)
    assert list(back.ids) == [1, None]
    assert list(back.datastreams) == [7, 8]
    assert list(back.results) == [1.5, "x"]
    assert list(back.quality_flags) == [4, 0]
    assert len(read_created({})) == 0


def test_version_2_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="different lengths"):
        read_created({"v": 2, "ids": [1, 2], "datastreams": [7], "phenomenon_times": ["a", "b"]})

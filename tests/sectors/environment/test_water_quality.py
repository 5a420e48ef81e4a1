"""VN_WQI per station: laboratory samples joined with the station's probes, through the API.

Worked example (see test_wqi.py for each sub-index): a sample at Tân An at 10:00 local time with pH 7.2,
DO 5.6 mg/L at 29 °C (probes, the hour's mean), BOD5 8, COD 20, N-NH4 0.5, P-PO4 0.25 mg/L and Coliform
4600 MPN/100 mL (lab) gives WQI = (67.833² × 79)^(1/3) = 71.37 → 71, "Trung bình".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.sectors.environment.stations import BY_CODE
from cityops.sectors.environment.water_quality import lab_datastream, record_sample, stations_wqi
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.stations import datastream_index, load_stations
from tests.kit.queries import get_counted

LAB = {"bod5": 8, "cod": 20, "n_nh4": 0.5, "p_po4": 0.25, "coliform": 4600}


def _probes(session: Session, station: str, hour: datetime, values: dict[str, float]) -> None:
    index = datastream_index(session)
    rows = [
        ObservationIn(
            datastream_id=index[(station, code)].id, phenomenon_time=hour + timedelta(minutes=m), result=v
        )
        for code, v in values.items()
        for m in (0, 30)
    ]
    ingest_observations(session, rows, emit_event=False)


def test_station_wqi_from_lab_sample_and_probes(sessions: sessionmaker[Session]) -> None:
    sample = datetime(2026, 3, 20, 3, 15, tzinfo=UTC)
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["VC-TANTRU"]])
        _probes(
            s,
            "VCT-TANAN",
            sample.replace(minute=0),
            {"ph": 7.2, "dissolved_oxygen": 5.6, "water_temperature": 29},
        )
        index = datastream_index(s)
        tan_an, tan_tru = index[("VCT-TANAN", "salinity")].thing_id, index[("VC-TANTRU", "salinity")].thing_id
        assert record_sample(s, tan_an, sample, LAB) == 5
        assert record_sample(s, tan_an, sample, LAB) == 0  # the same sample again stores nothing
        s.commit()
        results = stations_wqi(s, [tan_an, tan_tru], sample + timedelta(days=3))
    assert results[tan_an].result.wqi == 71
    assert results[tan_an].sample_time == sample
    assert results[tan_an].values["ph"] == pytest.approx(7.2)
    assert results[tan_an].result.sub_indices["do"] == pytest.approx(73.886, abs=1e-3)
    assert results[tan_tru].result.wqi is None
    assert results[tan_tru].result.reason == "no laboratory sample"
    # 45 days later the sample is too old to count
    with sessions() as s:
        old = stations_wqi(s, [tan_an], sample + timedelta(days=46))
    assert old[tan_an].result.wqi is None


def test_a_later_sample_replaces_the_earlier_one(sessions: sessionmaker[Session]) -> None:
    first = datetime(2026, 3, 1, 3, tzinfo=UTC)
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"]])
        thing = datastream_index(s)[("VCT-TANAN", "salinity")].thing_id
        _probes(s, "VCT-TANAN", first, {"ph": 7.0, "dissolved_oxygen": 7.0, "water_temperature": 29})
        record_sample(s, thing, first, {"bod5": 3, "cod": 8, "n_nh4": 0.1, "coliform": 1000})
        # a polluted sample a week later: BOD5 40 → 16, COD 100 → 25 − 15/100 × 50 ... = 17.5, N-NH4 0.1 → 100
        later = first + timedelta(days=7)
        record_sample(s, thing, later, {"bod5": 40, "cod": 100, "n_nh4": 0.1, "coliform": 1000})
        s.commit()
        before = stations_wqi(s, [thing], first + timedelta(days=1))[thing]
        after = stations_wqi(s, [thing], later + timedelta(hours=1))[thing]
    assert before.result.wqi == 100
    # pH and DO at the later hour are missing (no probe values then, none before it within the hour either):
    # the latest probe values are used, so DO stays 100. IV = (100 + 16 + 17.5 + 100) / 4 = 58.375;
    # WQI = 1 × (58.375² × 100)^(1/3) = 69.85 → 70
    assert after.sample_time == later
    assert after.result.sub_indices["cod"] == pytest.approx(17.5)
    assert after.result.wqi == 70


def test_lab_parameters_only(session: Session) -> None:
    load_stations(session, [BY_CODE["VCT-TANAN"]])
    thing = datastream_index(session)[("VCT-TANAN", "salinity")].thing_id
    with pytest.raises(ValueError, match="not a laboratory parameter"):
        lab_datastream(session, thing, "salinity")
    ds = lab_datastream(session, thing, "cod")
    assert (ds.properties or {})["lab_sample"] is True
    assert lab_datastream(session, thing, "cod").id == ds.id


def test_water_quality_api(client: TestClient, sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    sample = (now - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["VC-TANTRU"], BY_CODE["AQ-TANAN"]])
        _probes(s, "VCT-TANAN", sample, {"ph": 7.2, "dissolved_oxygen": 5.6, "water_temperature": 29})
        record_sample(s, datastream_index(s)[("VCT-TANAN", "salinity")].thing_id, sample, LAB)
        s.commit()
    response, log = get_counted(client, "/api/v1/environment/water-quality")
    body = {st["code"]: st for st in response.json()}
    assert set(body) == {"VCT-TANAN", "VC-TANTRU"}  # water stations only
    tan_an = body["VCT-TANAN"]
    assert (tan_an["wqi"], tan_an["class_vi"], tan_an["class_en"], tan_an["colour"]) == (
        71, "Trung bình", "Medium", "#FFFF00",
    )  # fmt: skip
    assert tan_an["values"]["coliform"] == 4600
    assert body["VC-TANTRU"]["wqi"] is None
    assert body["VC-TANTRU"]["reason"] == "no laboratory sample"
    # a constant number of statements: things, observed properties, datastreams, lab rows, probe roll-ups
    assert len(log.statements) <= 6, log.statements


def test_mean_wqi_indicator(sessions: sessionmaker[Session]) -> None:
    from cityops.sectors.environment.indicators import indicators, wqi_mean

    spec = next(i for i in indicators() if i.code == "environment.wqi_mean")
    sample = datetime(2026, 3, 20, 3, 15, tzinfo=UTC)
    with sessions() as s:
        load_stations(s, [BY_CODE["VCT-TANAN"], BY_CODE["VCD-BENLUC"]])
        _probes(
            s,
            "VCT-TANAN",
            sample.replace(minute=0),
            {"ph": 7.2, "dissolved_oxygen": 5.6, "water_temperature": 29},
        )
        _probes(
            s,
            "VCD-BENLUC",
            sample.replace(minute=0),
            {"ph": 7.0, "dissolved_oxygen": 7.0, "water_temperature": 29},
        )
        index = datastream_index(s)
        record_sample(s, index[("VCT-TANAN", "salinity")].thing_id, sample, LAB)  # 71 (worked example)
        clean = {"bod5": 3, "cod": 8, "n_nh4": 0.1, "coliform": 1000}
        record_sample(
            s, index[("VCD-BENLUC", "salinity")].thing_id, sample, clean
        )  # every sub-index 100 → 100
        s.commit()
        march = wqi_mean(
            s, spec, {1: None}, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
        )
        april = wqi_mean(
            s, spec, {1: None}, datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
        )
    # (71 + 100) / 2 = 85.5 over 2 stations
    assert (march[1].value, march[1].inputs, march[1].numerator) == (85.5, 2, 171.0)
    # April: the March samples are the latest but not of the month → nothing
    assert (april[1].value, april[1].inputs) == (None, 0)

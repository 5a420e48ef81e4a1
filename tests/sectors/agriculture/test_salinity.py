"""Intrusion distances and sluice gate recommendations: worked examples, and the API on both backends.

Intrusion (ln-linear between stations): km_T = km_i + (ln S_i − ln T)/(ln S_i − ln S_{i+1}) × (km_{i+1} − km_i).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.clock import utcnow
from cityops.forecasting.datastreams import ensure_forecast_datastreams
from cityops.identity.models import Role, User
from cityops.places.models import Place
from cityops.sectors.agriculture.crops import CROPS, crops
from cityops.sectors.agriculture.demo import load as load_gates
from cityops.sectors.agriculture.gates import recommend
from cityops.sectors.agriculture.intrusion import reach
from cityops.sectors.agriculture.salinity import StationSalinity
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Datastream
from cityops.sensing.stations import datastream_index, load_stations
from cityops.specs import StationSpec
from tests.kit.queries import get_counted

NOW = datetime(2026, 3, 25, 5, tzinfo=UTC)


class _Silent:
    def value_of(self, code: str, t: datetime, station: StationSpec, seed: int = 0) -> float | None:
        return None


def _station(code: str, river: str, km: float, lat: float, lon: float) -> StationSpec:
    attrs = {"river": river, "distance_to_sea_km": km}
    return StationSpec(code, f"Trạm {code}", "water", lat, lon, ("salinity",), _Silent(), attributes=attrs)


STATIONS = [
    _station("VC-CANDUOC", "Vàm Cỏ", 32, 10.505, 106.605),
    _station("VC-TANTRU", "Vàm Cỏ", 45, 10.516, 106.515),
    _station("VCT-TANAN", "Vàm Cỏ Tây", 62, 10.529, 106.414),
    _station("VCD-BENLUC", "Vàm Cỏ Đông", 56, 10.638, 106.487),
]


# --- intrusion: worked examples -------------------------------------------------------------------------


def test_reach_between_two_stations() -> None:
    # km 45: 2.72 g/L, km 62: 1.04 g/L. T = 1: both stations are at or above 1 g/L, so the line lies
    # beyond the farthest station (km 62); no extrapolation.
    assert reach([(45, 2.72), (62, 1.04)], 1.0).bound == "beyond"
    # km 32: 5.72, km 45: 2.72, km 62: 1.04. T = 4: between km 32 and 45:
    # 32 + (ln 5.72 − ln 4)/(ln 5.72 − ln 2.72) × 13 = 32 + 0.35767/0.74339 × 13 = 32 + 6.255 = 38.3
    r = reach([(62, 1.04), (32, 5.72), (45, 2.72)], 4.0)
    assert (r.bound, r.km) == ("between", 38.3)
    assert r.km == pytest.approx(
        32 + (math.log(5.72) - math.log(4)) / (math.log(5.72) - math.log(2.72)) * 13, abs=0.05
    )
    assert "km 38" in r.text_vi
    assert "approximate" in r.text_en
    # December: km 32: 1.545, km 45: 0.585. T = 1: 32 + (ln 1.545)/(ln 1.545 − ln 0.585) × 13
    # = 32 + 0.43503/0.97116 × 13 = 32 + 5.82 = 37.8; T = 4: below the first station (km 32)
    assert reach([(32, 1.545), (45, 0.585), (62, 0.21)], 1.0).km == 37.8
    below = reach([(32, 1.545), (45, 0.585)], 4.0)
    assert (below.bound, below.bound_km, below.km) == ("below", 32, None)
    assert reach([], 1.0).bound == "none"


# --- gates: the rule ------------------------------------------------------------------------------------


def _sal(observed: float | None, forecast: list[float] | None = None) -> StationSalinity:
    s = StationSalinity("VCT-TANAN", "Tân An", "Vàm Cỏ Tây", 62, 10.5, 106.4, [], observed_max=observed)
    s.forecast = [(NOW + timedelta(hours=6 * (i + 1)), v) for i, v in enumerate(forecast or [])]
    return s


def test_threshold_is_the_most_sensitive_crop() -> None:
    rice, fruit = CROPS["rice"], CROPS["fruit"]
    # rice alone: 4 g/L; observed 3.0 → below, but not below 0.8 × 4 = 3.2? 3.0 < 3.2 → open a closed gate
    assert recommend("closed", [rice], _sal(3.0), NOW).action == "open"
    # with fruit trees the threshold is 1 g/L: 3.0 ≥ 1 → close an open gate
    rec = recommend("open", [rice, fruit], _sal(3.0), NOW)
    assert (rec.action, rec.threshold) == ("close", 1.0)
    assert "Đề nghị đóng cống" in rec.text_vi
    assert "cây ăn trái" in rec.text_vi


@pytest.mark.parametrize(
    ("status", "observed", "forecast", "action"),
    [
        ("open", 4.2, None, "close"),  # observed above 4 g/L
        ("open", 2.0, [3.0, 4.5], "close"),  # the forecast of the next 24 h reaches 4 g/L
        ("open", 2.0, [3.0, 3.5, 3.9, 3.0, 5.0], "keep"),  # 5.0 is 30 h ahead: beyond the look-ahead
        ("closed", 4.2, None, "keep"),  # already closed
        ("closed", 3.5, None, "keep"),  # below 4 but above 3.2: hysteresis keeps it closed
        ("partly_open", 2.0, [2.5], "open"),
        ("open", 1.0, None, "keep"),  # already open and safe
        ("maintenance", 9.0, None, "none"),
        ("open", None, None, "none"),  # no data
    ],
)
def test_gate_rule(status: str, observed: float | None, forecast: list[float] | None, action: str) -> None:
    assert recommend(status, [CROPS["rice"]], _sal(observed, forecast), NOW).action == action


def test_crop_tolerances_are_checked_data() -> None:
    assert all(c.source for c in CROPS.values())
    assert CROPS["rice"].harm_g_l == 4.0
    assert CROPS["fruit"].harm_g_l == 1.0
    assert CROPS["rice"].level(2.5) == "caution"
    row = {"code": "x", "name_vi": "x", "name_en": "x", "caution_g_l": 3.0, "harm_g_l": 2.0, "source": "s"}
    with pytest.raises(ValueError, match="caution_g_l <= harm_g_l"):
        crops([row])


# --- through the database and the API --------------------------------------------------------------------


def _forecast_stream(session: Session, source: Datastream, horizon: int) -> Datastream:
    """A forecast Datastream as the forecasting capability makes it: on the station's forecast Thing
    (properties.forecast_of_thing), not on the station's own Thing."""
    ds = ensure_forecast_datastreams(session, source, "salinity", (horizon,))[horizon]
    assert ds.thing_id != source.thing_id
    return ds


def _load(session: Session, now: datetime, peaks: dict[str, float]) -> dict[str, Datastream]:
    load_stations(session, STATIONS)
    index = {code: ds for (code, prop), ds in datastream_index(session).items() if prop == "salinity"}
    rows = [
        ObservationIn(datastream_id=index[code].id, phenomenon_time=now - timedelta(hours=h), result=peak * f)
        for code, peak in peaks.items()
        for h, f in ((10, 0.5), (3, 1.0), (1, 0.7))
    ]
    ingest_observations(session, rows, emit_event=False)
    return index


def test_intrusion_and_gates_api(client: TestClient, sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions() as s:
        index = _load(s, now, {"VC-CANDUOC": 5.72, "VC-TANTRU": 2.72, "VCT-TANAN": 1.04, "VCD-BENLUC": 1.5})
        # a forecast for Tân An: 6 h ahead 4.5 g/L (short lead) — the gate protecting rice must close
        fc = _forecast_stream(s, index["VCT-TANAN"], 6)
        ingest_observations(
            s,
            [ObservationIn(datastream_id=fc.id, phenomenon_time=now + timedelta(hours=6), result=4.5)],
            emit_event=False,
        )
        load_gates(s, Console(quiet=True))
        s.commit()
    body = client.get("/api/v1/agriculture/intrusion").json()
    rivers = {r["code"]: r for r in body}
    tay = rivers["vam_co_tay"]
    assert [st["code"] for st in tay["stations"]] == ["VC-CANDUOC", "VC-TANTRU", "VCT-TANAN"]
    obs = {r["threshold_g_l"]: r for r in tay["observed"]}
    assert obs[4.0]["km"] == 38.3  # the worked example above
    assert obs[1.0]["bound"] == "beyond"
    # forecast: only Tân An has one (4.5 at km 62): every forecast station ≥ 4 → beyond km 62
    assert {r["threshold_g_l"]: r["bound"] for r in tay["forecast"]} == {1.0: "beyond", 4.0: "beyond"}
    dong = rivers["vam_co_dong"]
    assert [st["code"] for st in dong["stations"]] == ["VC-CANDUOC", "VC-TANTRU", "VCD-BENLUC"]
    assert dong["forecast"] == []  # no forecast: observed only
    layer, log = get_counted(client, "/api/v1/agriculture/intrusion.geojson")
    kinds = [f["geometry"]["type"] for f in layer.json()["features"]]
    assert kinds.count("LineString") == 2
    assert "Point" in kinds
    assert len(log.statements) <= 8, log.statements
    assert client.get("/api/v1/agriculture/intrusion.geojson?area_id=999999").status_code == 404

    gates, glog = get_counted(client, "/api/v1/agriculture/gates")
    by_name = {g["name"]: g for g in gates.json()}
    # Cống đầu kênh Bảo Định: open, protects rice and fruit (1 g/L): observed 1.04 ≥ 1 → close
    first = by_name["Cống đầu kênh Bảo Định"]
    assert (first["status"], first["action"], first["threshold_g_l"]) == ("open", "close", 1.0)
    # Cống rạch Châu Thị Kim: closed, rice only (4 g/L): the forecast 4.5 within 24 h → keep closed
    second = by_name["Cống rạch Châu Thị Kim"]
    assert (second["status"], second["action"], second["forecast_g_l"]) == ("closed", "keep", 4.5)
    assert len(glog.statements) <= 9, glog.statements
    geo = client.get("/api/v1/agriculture/gates.geojson").json()
    assert {f["properties"]["status"] for f in geo["features"]} >= {"open", "closed"}


def test_operator_closes_a_gate_and_the_recommendation_follows(
    client: TestClient,
    sessions: sessionmaker[Session],
    make_user: Callable[..., User],
    auth: Callable[[User], dict[str, str]],
) -> None:
    now = utcnow()
    with sessions() as s:
        _load(s, now, {"VCT-TANAN": 4.6})
        load_gates(s, Console(quiet=True))
        s.commit()
        gate_id = s.scalars(select(Place.id).where(Place.name == "Cống rạch Cần Đốt")).one()
    before = {g["id"]: g for g in client.get("/api/v1/agriculture/gates").json()}[gate_id]
    # partly open, protects vegetables and fruit (1 g/L): 4.6 g/L → close
    assert (before["status"], before["action"]) == ("partly_open", "close")
    url = f"/api/v1/places/{gate_id}/status"
    assert (
        client.post(url, json={"status": "closed"}, headers=auth(make_user(Role.CITIZEN))).status_code == 403
    )
    operator = auth(make_user(Role.OPERATOR))
    assert client.post(url, json={"status": "ajar"}, headers=operator).status_code == 422
    r = client.post(url, json={"status": "closed", "note": "Đóng ngăn mặn"}, headers=operator)
    assert r.status_code == 201
    after = {g["id"]: g for g in client.get("/api/v1/agriculture/gates").json()}[gate_id]
    assert (after["status"], after["action"]) == ("closed", "keep")
    history = client.get(f"/api/v1/places/{gate_id}/status-history", headers=operator)
    assert history.status_code == 200
    assert history.json()["items"][0]["status"] == "closed"


def test_gates_follow_the_crops_in_force() -> None:
    from dataclasses import replace

    from cityops.sectors.agriculture.gates import recommend_for

    attrs: dict[str, object] = {"outer_station": "VCT-TANAN", "protects": "rice"}
    stations = {"VCT-TANAN": _sal(3.2)}
    assert recommend_for("open", attrs, stations, NOW).action == "keep"  # 3.2 < 4 g/L as shipped
    edited = {**CROPS, "rice": replace(CROPS["rice"], harm_g_l=3.0)}
    assert recommend_for("open", attrs, stations, NOW, edited).action == "close"  # an admin lowered it to 3

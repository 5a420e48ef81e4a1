"""Salinity bulletins: the texts for each level (worked examples), the safe window, the crop calendar, publishing
daily and on change, and the API."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cityops.alerts.models import AlertSubscription, Severity
from cityops.notify.models import Delivery
from cityops.sectors.agriculture.bulletins import TIDAL_DAY, compose, intake_window, publish, publish_changes
from cityops.sectors.agriculture.calendar import season_of, seasons
from cityops.sectors.agriculture.crops import CROPS
from cityops.sectors.agriculture.models import SalinityBulletin
from cityops.sectors.agriculture.push import push_changes, worth_pushing
from cityops.sectors.agriculture.salinity import StationSalinity
from cityops.sensing.ingest import ObservationIn, ingest_observations
from cityops.sensing.models import Thing
from cityops.sensing.stations import datastream_index, load_stations
from cityops.settings import Settings
from tests.kit.factories import Factory
from tests.sectors.agriculture.test_salinity import STATIONS

# 02:00 UTC = 09:00 local on 15 January 2026, in the Đông Xuân rice season
NOW = datetime(2026, 1, 15, 2, tzinfo=UTC)


def _tidal(peak: float, low: float) -> list[tuple[datetime, float]]:
    """Yesterday's hourly means: high at local 03–06 and 15–18, low otherwise."""
    out = []
    for i in range(24):
        t = NOW - timedelta(hours=24 - i)
        local_hour = (t.hour + 7) % 24
        out.append((t, peak if local_hour in (3, 4, 5, 6, 15, 16, 17, 18) else low))
    return out


def _station(
    peak: float, low: float, forecast: list[tuple[datetime, float]] | None = None
) -> StationSalinity:
    s = StationSalinity("VCT-TANAN", "Trạm Tân An", "Vàm Cỏ Tây", 62, 10.5, 106.4, [1], observed_max=peak)
    s.hourly = _tidal(peak, low)
    s.forecast = forecast or []
    return s


def test_caution_for_rice_with_the_low_tide_window() -> None:
    # peak 2.5 g/L: rice's caution level is 2, harm 4 → caution. Yesterday below 2 g/L from local 19:00 to
    # 03:00 (8 hours) and 07:00–15:00 (8 hours); shifted by a tidal day (24 h 50 min) the first run in the next
    # 24 h that is longest wins.
    d = compose(_station(2.5, 0.8), CROPS["rice"], NOW)
    assert d.level == "caution"
    assert d.season == "dong_xuan"
    assert d.window is not None
    assert d.window["source"] == "tide_repeat"
    start, end = datetime.fromisoformat(d.window["start"]), datetime.fromisoformat(d.window["end"])
    assert end - start == timedelta(hours=8)
    assert (start - NOW) % timedelta(hours=1) == TIDAL_DAY % timedelta(hours=1)  # shifted by 50 minutes
    assert d.text_vi.startswith(
        "Vụ Đông Xuân. Hạn chế lấy nước tưới lúa: độ mặn cao nhất 24 giờ qua tại Trạm Tân An là 2,5 g/L"
    )
    assert "Chỉ lấy nước lúc triều thấp, khoảng" in d.text_vi
    assert "lùi khoảng 50 phút" in d.text_vi
    assert "Chưa có dự báo" in d.text_vi
    assert "Limit taking irrigation water for rice" in d.text_en


def test_harm_safe_and_forecast() -> None:
    # fruit trees: harm at 1 g/L; peak 2.5 → do not take water
    harm = compose(_station(2.5, 0.3), CROPS["fruit"], NOW)
    assert harm.level == "harm"
    assert "KHÔNG lấy nước tưới cây ăn trái" in harm.text_vi
    assert harm.season is None  # fruit trees are in the field all year
    assert not harm.text_vi.startswith("Vụ")
    # vegetables at 0.4 g/L: safe, no window needed
    safe = compose(_station(0.4, 0.2), CROPS["vegetables"], NOW)
    assert (safe.level, safe.window) == ("safe", None)
    assert "Có thể lấy nước tưới rau màu bình thường" in safe.text_vi
    # a forecast of 4.5 g/L in 6 hours turns rice (observed 1.5: safe) into harm, and gives the outlook
    fc = [(NOW + timedelta(hours=h), 4.5 if h == 6 else 1.0) for h in range(1, 48)]
    ahead = compose(_station(1.5, 0.5, fc), CROPS["rice"], NOW)
    assert ahead.level == "harm"
    assert ahead.window is not None
    assert ahead.window["source"] == "forecast"
    assert "Dự báo 2 ngày tới: độ mặn cao nhất khoảng 4,5 g/L (gây hại cho lúa)." in ahead.text_vi
    assert "peak salinity about 4.5 g/L (harm for rice)" in ahead.text_en
    # aquaculture takes water into its ponds, not for irrigation
    ponds = compose(_station(0.4, 0.2), CROPS["aquaculture"], NOW)
    assert "Có thể lấy nước vào ao nuôi thủy sản nước ngọt bình thường" in ponds.text_vi
    # no data at all
    empty = StationSalinity("X", "X", "Vàm Cỏ", 10, None, None, [1])
    assert compose(empty, CROPS["rice"], NOW).level == "unknown"


def test_intake_window_longest_run_below_caution() -> None:
    s = _station(3.0, 3.0)
    s.hourly = []
    s.forecast = [
        (NOW + timedelta(hours=h), 1.0 if h in (2, 3, 10, 11, 12, 13) else 3.0) for h in range(1, 25)
    ]
    w = intake_window(s, CROPS["rice"], NOW)
    assert w is not None
    assert (w["start"], w["end"]) == (
        (NOW + timedelta(hours=10)).isoformat(),
        (NOW + timedelta(hours=14)).isoformat(),
    )
    s.forecast = [(NOW + timedelta(hours=h), 3.0) for h in range(1, 25)]
    assert intake_window(s, CROPS["rice"], NOW) is None


def test_crop_calendar() -> None:
    assert season_of("rice", date(2026, 1, 15)).code == "dong_xuan"  # type: ignore[union-attr]
    assert season_of("rice", date(2025, 12, 1)).code == "dong_xuan"  # type: ignore[union-attr]  # wraps the year
    assert season_of("rice", date(2026, 5, 10)).code == "he_thu"  # type: ignore[union-attr]
    assert season_of("rice", date(2026, 3, 25)) is None  # between Đông Xuân and Hè Thu
    assert season_of("fruit", date(2026, 1, 15)) is None
    out_of_season = compose(_station(0.4, 0.2), CROPS["rice"], datetime(2026, 3, 25, 2, tzinfo=UTC))
    assert out_of_season.text_vi.startswith("Ngoài vụ lúa.")
    with pytest.raises(ValueError, match="day is out of range"):
        seasons(
            [{"code": "x", "name_vi": "x", "name_en": "x", "start": "02-30", "end": "03-01", "source": "s"}]
        )


def _setup(session: Session, area_id: int, now: datetime, peak: float) -> int:
    """The test stations, Tân An placed in the commune ``area_id``, with readings around ``now``."""
    load_stations(session, STATIONS)
    index = datastream_index(session)
    ds = index[("VCT-TANAN", "salinity")]
    thing = session.get(Thing, ds.thing_id)
    assert thing is not None
    thing.properties = {**(thing.properties or {}), "area_ids": [area_id]}
    _readings(session, ds.id, now, peak)
    return area_id


def _readings(session: Session, ds_id: int, now: datetime, peak: float) -> None:
    rows = [ObservationIn(ds_id, now - timedelta(hours=h), peak if h == 2 else 0.3) for h in range(1, 6)]
    ingest_observations(session, rows, emit_event=False)
    session.flush()


def test_publish_daily_and_on_change_and_the_api(
    client: TestClient, sessions: sessionmaker[Session], factory: Factory
) -> None:
    # 10:00 local yesterday: "later" stays in the past and on the same local day
    now = (datetime.now(UTC) - timedelta(days=1)).replace(hour=3, minute=0, second=0, microsecond=0)
    commune = factory.area()  # committed before the session below starts writing
    with sessions() as s:
        area_id = _setup(s, commune.id, now, 0.4)
        first = publish(s, now)
        s.commit()
        # Tân An's pilot crops: rice, fruit, vegetables — one bulletin each; the other pilots' stations have
        # no commune here, so they get none
        assert sorted(b.crop for b in first) == ["fruit", "rice", "vegetables"]
        assert {b.level for b in first} == {"safe"}
        assert publish(s, now + timedelta(minutes=15)) == []  # nothing changed: nothing new
        # salinity rises to 1.6 g/L: fruit trees and vegetables (harm at 1 g/L) change, rice (caution at 2) not
        ds = datastream_index(s)[("VCT-TANAN", "salinity")]
        later = now + timedelta(minutes=30)
        ingest_observations(s, [ObservationIn(ds.id, later - timedelta(minutes=1), 1.6)], emit_event=False)
        changed = publish(s, later)
        s.commit()
        assert sorted((b.crop, b.level) for b in changed) == [("fruit", "harm"), ("vegetables", "harm")]
        # the next local day: a fresh issue for every crop even if nothing changed
        assert len(publish(s, later + timedelta(days=1))) == 3
        s.rollback()
        count = len(s.scalars(select(SalinityBulletin)).all())
    assert count == 5
    current = client.get(f"/api/v1/agriculture/bulletins?area_id={area_id}")
    assert current.status_code == 200
    by_crop = {b["crop"]: b for b in current.json()}
    assert set(by_crop) == {"fruit", "rice", "vegetables"}
    assert by_crop["fruit"]["level"] == "harm"
    assert by_crop["fruit"]["crop_vi"] == "Cây ăn trái"
    assert "KHÔNG lấy nước" in by_crop["fruit"]["text_vi"]
    assert by_crop["rice"]["level"] == "safe"
    one = client.get(f"/api/v1/agriculture/bulletins?area_id={area_id}&crop=fruit").json()
    assert [b["level"] for b in one] == ["harm"]
    history = client.get(f"/api/v1/agriculture/bulletins/history?area_id={area_id}&crop=fruit").json()
    assert [b["level"] for b in history] == ["harm", "safe"]  # newest first
    # the IOC layer: the commune at its centre, coloured by its worst current bulletin (fruit: harm)
    layer = client.get(f"/api/v1/agriculture/bulletins.geojson?area_id={area_id}").json()
    (feature,) = layer["features"]
    assert feature["properties"]["level"] == "harm"
    assert feature["geometry"]["coordinates"] == [commune.lon, commune.lat]
    assert "Cây ăn trái: " in feature["properties"]["name_vi"]
    assert client.get("/api/v1/agriculture/bulletins.geojson?area_id=99999999").status_code == 404
    bad_crop = client.get("/api/v1/agriculture/bulletins?crop=durian")
    assert bad_crop.status_code == 422
    assert bad_crop.json()["error"]["code"] == "unknown_crop"
    bad_area = client.get("/api/v1/agriculture/bulletins/history?area_id=99999999")
    assert bad_area.status_code == 422
    assert bad_area.json()["error"]["code"] == "unknown_area"


def test_changed_bulletins_reach_the_communes_subscribers(
    sessions: sessionmaker[Session], factory: Factory, settings: Settings
) -> None:
    assert worth_pushing("harm", "safe")
    assert worth_pushing("safe", "caution")  # "you may take water again" is news too
    assert not worth_pushing("safe", None)
    assert not worth_pushing("harm", "harm")
    now = (datetime.now(UTC) - timedelta(days=1)).replace(hour=3, minute=0, second=0, microsecond=0)
    commune = factory.area()
    with sessions() as s:
        area_id = _setup(s, commune.id, now, 0.4)
        s.add(
            AlertSubscription(
                area_id=area_id, email="nong.dan@example.vn", min_severity=Severity.WATCH, locale="vi"
            )
        )
        s.commit()
        assert push_changes(s, settings, publish_changes(s, now), {area_id: "Phường Thử"}) == 0  # all safe
        ds = datastream_index(s)[("VCT-TANAN", "salinity")]
        later = now + timedelta(minutes=30)
        ingest_observations(s, [ObservationIn(ds.id, later - timedelta(minutes=1), 1.6)], emit_event=False)
        changes = publish_changes(s, later)
        assert sorted((b.crop, previous) for b, previous in changes) == [
            ("fruit", "safe"),
            ("vegetables", "safe"),
        ]
        assert push_changes(s, settings, changes, {area_id: "Phường Thử"}) == 2
        s.commit()
        sent = s.scalars(select(Delivery).where(Delivery.category == "bulletin")).all()
    assert len(sent) == 2
    assert {d.message["subject_vi"] for d in sent} == {
        "Bản tin mặn: Cây ăn trái – Phường Thử",
        "Bản tin mặn: Rau màu – Phường Thử",
    }
    assert all("KHÔNG lấy nước tưới" in d.message["body_vi"] for d in sent)

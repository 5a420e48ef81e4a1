"""Salinity bulletins (bản tin mặn) per pilot commune and crop: whether to take irrigation water today, the
safe window at low tide, the outlook for the next two days.

The pilot communes are data (``data/pilot_communes.json``): each names the station that speaks for it (its
commune is the station's area) and the crops grown there. For each commune and crop:

* **level** — from the worse of the station's observed peak of the last 24 h and its forecast peak of the
  next 24 h, against the crop's tolerance (:mod:`.crops`): *safe* below the caution level (take water as
  usual), *caution* up to the harm level (take water only in the safe window), *harm* from it on (do not
  take water); *unknown* without data;
* **safe window** — the longest run of hours in the next 24 h whose salinity is below the caution level:
  from the forecast when there is one, else from the last day's hourly means shifted by one tidal day
  (24 h 50 min: the tide comes back about 50 minutes later each day), stated as such;
* **outlook** — the forecast peak of the next 48 h, or "no forecast yet";
* **season** — for seasonal crops (rice), the season of the crop calendar (:mod:`.calendar`), or "out of
  season".

:func:`publish` stores a bulletin when a commune and crop has none for the local day yet (the daily issue)
or when its level or safe window changed since the last one (an issue on change); otherwise nothing. It runs
as a background task every :data:`PUBLISH_EVERY_S` seconds and after the demo loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.clock import to_local
from cityops.sectors.agriculture.calendar import season_of, seasonal
from cityops.sectors.agriculture.crops import Crop, effective
from cityops.sectors.agriculture.models import SalinityBulletin
from cityops.sectors.agriculture.salinity import StationSalinity, salinity_outlook
from cityops.sectors.tables import read_table

PUBLISH_EVERY_S = 900
TIDAL_DAY = timedelta(hours=24, minutes=50)
PILOTS: list[dict[str, Any]] = read_table("cityops.sectors.agriculture", "pilot_communes.json")

LEVEL_VI = {"safe": "an toàn", "caution": "cần thận trọng", "harm": "gây hại", "unknown": "chưa rõ"}


@dataclass(frozen=True, slots=True)
class Draft:
    """A bulletin before it is stored."""

    crop: str
    station_code: str
    level: str
    observed: float | None
    forecast: float | None
    season: str | None
    window: dict[str, Any] | None
    text_vi: str
    text_en: str

    @property
    def fingerprint(self) -> str:
        w = self.window or {}
        key = f"{self.level}|{w.get('start', '')}|{w.get('end', '')}|{self.season or ''}"
        return hashlib.sha256(key.encode()).hexdigest()[:32]


def _g(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _hm(t: datetime) -> str:
    return to_local(t).strftime("%H:%M")


def _level(crop: Crop, value: float | None) -> str:
    return "unknown" if value is None else crop.level(value)


def intake_window(station: StationSalinity, crop: Crop, now: datetime) -> dict[str, Any] | None:
    """The longest run of hours in the next 24 h below the crop's caution level (forecast, else tide repeat)."""
    horizon = now + timedelta(hours=24)
    series = [(t, v) for t, v in station.forecast if now < t <= horizon]
    source = "forecast"
    if not series:
        series = [(t + TIDAL_DAY, v) for t, v in station.hourly if now < t + TIDAL_DAY <= horizon]
        source = "tide_repeat"
    series.sort()
    best: tuple[datetime, datetime] | None = None
    run_start: datetime | None = None
    last: datetime | None = None
    for t, v in [*series, (horizon + timedelta(days=1), float("inf"))]:
        contiguous = last is not None and t - last <= timedelta(minutes=90)
        if v < crop.caution_g_l:
            if run_start is None or not contiguous:
                run_start = t
            end = t + timedelta(hours=1)
            if best is None or end - run_start > best[1] - best[0]:
                best = (run_start, end)
        else:
            run_start = None
        last = t
    if best is None:
        return None
    return {"start": best[0].isoformat(), "end": best[1].isoformat(), "source": source}


def compose(station: StationSalinity, crop: Crop, now: datetime) -> Draft:
    """The bulletin of ``crop`` for the commune ``station`` speaks for (Vietnamese and English)."""
    day = to_local(now).date()
    ahead24 = station.forecast_max_within(24, now)
    ahead48 = station.forecast_max
    values = [v for v in (station.observed_max, ahead24) if v is not None]
    level = _level(crop, max(values) if values else None)
    window = intake_window(station, crop, now) if level in ("caution", "harm") else None
    season = season_of(crop.code, day)
    vi: list[str] = []
    en: list[str] = []
    if seasonal(crop.code):
        if season is not None:
            vi.append(f"Vụ {season.name_vi}.")
            en.append(f"{season.name_en} season.")
        else:
            vi.append("Ngoài vụ lúa.")
            en.append("Between rice seasons.")
    name_vi, name_en = crop.name_vi.lower(), crop.name_en.lower()
    seen = station.observed_max
    basis_vi = f"độ mặn cao nhất 24 giờ qua tại {station.name} là {_g(seen)} g/L" if seen is not None else ""
    basis_en = (
        f"the peak salinity of the last 24 h at {station.name} was {seen:.1f} g/L" if seen is not None else ""
    )
    span_vi = span_en = ""
    if window is not None:
        start, end = datetime.fromisoformat(window["start"]), datetime.fromisoformat(window["end"])
        span_vi = f"{_hm(start)}–{_hm(end)} ngày {to_local(start).strftime('%d/%m')}"
        span_en = f"{_hm(start)}–{_hm(end)} on {to_local(start).strftime('%d/%m')}"
        if window["source"] == "tide_repeat":
            span_vi += " (ước theo con triều hôm qua, lùi khoảng 50 phút)"
            span_en += " (estimated from yesterday's tide, about 50 minutes later)"
    if level == "unknown":
        vi.append(f"Chưa có số liệu độ mặn cho {name_vi}; theo dõi thông báo của địa phương.")
        en.append(f"No salinity data for {name_en} yet; follow local announcements.")
    elif level == "safe":
        vi.append(
            f"Có thể {crop.intake_vi} {name_vi} bình thường: {basis_vi}, dưới ngưỡng {_g(crop.caution_g_l)} g/L."
        )
        en.append(
            f"{crop.intake_en.capitalize()} for {name_en} can be taken as usual: {basis_en}, below {crop.caution_g_l:.1f} g/L."
        )
    elif level == "caution":
        vi.append(
            f"Hạn chế {crop.intake_vi} {name_vi}: {basis_vi} (ngưỡng thận trọng {_g(crop.caution_g_l)} g/L)."
        )
        en.append(
            f"Limit taking {crop.intake_en} for {name_en}: {basis_en} (caution level {crop.caution_g_l:.1f} g/L)."
        )
        if window is not None:
            vi.append(f"Chỉ lấy nước lúc triều thấp, khoảng {span_vi}.")
            en.append(f"Take water only at low tide, about {span_en}.")
        else:
            vi.append("Không có khung giờ an toàn trong 24 giờ tới; dùng nước đã trữ.")
            en.append("No safe window in the next 24 h; use stored water.")
    else:
        vi.append(f"KHÔNG {crop.intake_vi} {name_vi}: {basis_vi}, từ ngưỡng {_g(crop.harm_g_l)} g/L gây hại.")
        en.append(
            f"Do NOT take {crop.intake_en} for {name_en}: {basis_en}, at or above the harmful {crop.harm_g_l:.1f} g/L."
        )
        if window is not None:
            vi.append(f"Nếu thật cần, chỉ lấy lúc triều thấp khoảng {span_vi} và đo độ mặn trước khi lấy.")
            en.append(
                f"If unavoidable, take water only at low tide about {span_en} and measure salinity first."
            )
    if ahead48 is not None:
        out = _level(crop, ahead48)
        vi.append(
            f"Dự báo 2 ngày tới: độ mặn cao nhất khoảng {_g(ahead48)} g/L ({LEVEL_VI[out]} cho {name_vi})."
        )
        en.append(
            f"Outlook for the next 2 days: peak salinity about {ahead48:.1f} g/L ({out} for {name_en})."
        )
    else:
        vi.append("Chưa có dự báo; bản tin dựa trên số liệu đo.")
        en.append("No forecast yet; this bulletin is based on measurements.")
    return Draft(
        crop=crop.code,
        station_code=station.code,
        level=level,
        observed=seen,
        forecast=ahead48,
        season=season.code if season is not None else None,
        window=window,
        text_vi=" ".join(vi),
        text_en=" ".join(en),
    )


def _latest(session: Session, keys: Sequence[tuple[int, str]]) -> dict[tuple[int, str], SalinityBulletin]:
    """The latest bulletin of each (area, crop) (two statements)."""
    if not keys:
        return {}
    areas = sorted({a for a, _c in keys})
    newest = (
        select(SalinityBulletin.area_id, SalinityBulletin.crop, func.max(SalinityBulletin.id).label("id"))
        .where(SalinityBulletin.area_id.in_(areas))
        .group_by(SalinityBulletin.area_id, SalinityBulletin.crop)
        .subquery()
    )
    rows = session.scalars(select(SalinityBulletin).join(newest, newest.c.id == SalinityBulletin.id)).all()
    return {(b.area_id, b.crop): b for b in rows}


def drafts(session: Session, now: datetime) -> list[tuple[int, Draft]]:
    """Today's draft for each pilot commune (the area of its station) and crop."""
    stations = salinity_outlook(session, now)
    crops = effective(session)
    out = []
    for pilot in PILOTS:
        station = stations.get(pilot["station"])
        if station is None or not station.area_ids:
            continue
        area_id = station.area_ids[0]  # the finest area the station lies in: its commune
        for code in pilot["crops"]:
            out.append((area_id, compose(station, crops[code], now)))
    return out


def publish(session: Session, now: datetime) -> list[SalinityBulletin]:
    """Store the bulletins that are new for the day or changed; returns them (the caller commits)."""
    return [row for row, _previous in publish_changes(session, now)]


def publish_changes(session: Session, now: datetime) -> list[tuple[SalinityBulletin, str | None]]:
    """:func:`publish`, each stored bulletin with the level of the one before it (None: the first)."""
    pending = drafts(session, now)
    latest = _latest(session, [(a, d.crop) for a, d in pending])
    day = to_local(now).date()
    stored: list[tuple[SalinityBulletin, str | None]] = []
    for area_id, d in pending:
        last = latest.get((area_id, d.crop))
        if last is not None and last.day == day and last.fingerprint == d.fingerprint:
            continue
        row = SalinityBulletin(
            area_id=area_id, crop=d.crop, day=day, issued_at=now, station_code=d.station_code, level=d.level,
            observed_g_l=d.observed, forecast_g_l=d.forecast, season=d.season, intake_window=d.window,
            fingerprint=d.fingerprint, text_vi=d.text_vi, text_en=d.text_en,
        )  # fmt: skip
        session.add(row)
        stored.append((row, last.level if last is not None else None))
    session.flush()
    return stored


def area_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Area.id, Area.name).where(Area.id.in_(sorted(set(ids))))).all()
    return {int(i): str(n) for i, n in rows}

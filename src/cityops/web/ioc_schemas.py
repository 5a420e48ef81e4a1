"""The response shapes of the IOC routes (cityops.web.ioc), so the OpenAPI document names them (#13).

``extra="allow"``: the wall grows (helper work adds keys); a new key is served and the named ones stay
checked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class DayCount(_Out):
    day: str
    count: int


class SummaryOut(_Out):
    """KPI tiles and the reports-per-day series (local days, oldest first)."""

    area_id: int | None
    generated_at: str
    month: str
    reports_today: int
    open: int
    overdue: int
    on_time_pct: float | None
    satisfaction_pct: float | None
    daily: list[DayCount]


class StreamOut(_Out):
    """A datastream's latest value and level (``warn_at``/``bad_at``: the sector's thresholds, if any)."""

    id: int
    name: str
    property: str
    property_vi: str
    property_en: str
    unit: str | None
    value: float | None
    time: str | None
    level: str
    colour: str | None
    alert: str | None


class StationOut(_Out):
    """A located Thing: its worst level, its health (online, late, offline) and its datastreams."""

    id: int
    name: str
    kind: str | None
    lat: float
    lon: float
    level: str
    health: str
    last_time: str | None
    datastreams: list[StreamOut]


class PanelOut(_Out):
    """A sector's IOC panel with its current data, drawn by ``kind``; a ``map_layer`` has ``layer``."""

    code: str
    title_vi: str
    title_en: str
    sector: str
    kind: str
    order: int
    audience: str
    data: list[dict[str, Any]]
    layer: dict[str, Any] | None = None

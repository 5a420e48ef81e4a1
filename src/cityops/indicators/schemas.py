"""Typed request and response bodies of the indicators API (so the OpenAPI tells the truth)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cityops.indicators.models import Indicator, IndicatorSet, IndicatorTarget, IndicatorValue


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorOut(BaseModel):
    """The native error shape (cityops.errors)."""

    error: ErrorBody


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


class SetOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    publisher: str
    document: str
    year: int | None
    url: str
    indicators: int

    @classmethod
    def of(cls, row: IndicatorSet, count: int) -> SetOut:
        return cls(
            code=row.code, name_vi=row.name_vi, name_en=row.name_en, publisher=row.publisher,
            document=row.document, year=row.year, url=row.url, indicators=count,
        )  # fmt: skip


class Membership(BaseModel):
    set: str
    number: str


class IndicatorOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    unit: str
    direction: str
    period: str
    source: str
    sector: str
    method: str
    params: dict[str, Any]
    levels: list[str]
    aggregation: str
    description_vi: str
    description_en: str
    source_document: str
    decimals: int
    by_agency: bool = Field(description="Also kept per agency (values?agency_id= or breakdown=agency)")
    sets: list[Membership]

    @classmethod
    def of(cls, row: Indicator, sets: list[tuple[str, str]]) -> IndicatorOut:
        return cls(
            code=row.code, name_vi=row.name_vi, name_en=row.name_en, unit=row.unit, direction=row.direction,
            period=row.period, source=row.source, sector=row.sector, method=row.method, params=row.params or {},
            levels=list(row.levels or []), aggregation=row.aggregation, description_vi=row.description_vi,
            description_en=row.description_en, source_document=row.source_document, decimals=row.decimals,
            by_agency=bool(row.by_agency), sets=[Membership(set=s, number=n) for s, n in sets],
        )  # fmt: skip


class IndicatorPage(BaseModel):
    items: list[IndicatorOut]
    total: int
    limit: int
    offset: int


class ValueOut(BaseModel):
    agency_id: int | None = Field(None, description="The agency of a breakdown cell (None: all agencies)")
    area_id: int
    period_start: date
    value: float | None
    numerator: float | None
    denominator: float | None
    inputs: int
    origin: str
    method: str
    computed_at: datetime
    entered_by: int | None
    source_document: str
    note: str
    stale: bool
    demo: bool

    @classmethod
    def of(cls, row: IndicatorValue) -> ValueOut:
        return cls(
            agency_id=row.agency_id, area_id=row.area_id, period_start=row.period_start, value=row.value, numerator=row.numerator,
            denominator=row.denominator, inputs=row.inputs, origin=row.origin, method=row.method,
            computed_at=row.computed_at, entered_by=row.entered_by, source_document=row.source_document,
            note=row.note, stale=row.stale, demo=row.demo,
        )  # fmt: skip


class ValuePage(BaseModel):
    indicator: str
    area_id: int | None = Field(description="The unit the values are kept for (an old unit's successor)")
    agency_id: int | None = Field(
        None, description="The agency asked for (None: all agencies or a breakdown)"
    )
    items: list[ValueOut]
    total: int
    limit: int
    offset: int


class ValueIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    area_id: int
    period_start: date = Field(
        strict=False, description="The first day of the period (a month's 1st, 1 January, ...), yyyy-mm-dd"
    )
    value: float = Field(allow_inf_nan=False)
    source_document: str = Field(min_length=1, max_length=300)
    note: str = Field("", max_length=2000)


class TargetIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    area_id: int
    year: int = Field(ge=2000, le=2100)
    value: float = Field(allow_inf_nan=False)
    note: str = Field("", max_length=2000)


class TargetOut(BaseModel):
    area_id: int
    year: int
    value: float
    note: str
    set_at: datetime
    latest_value: float | None
    latest_period: date | None
    status: str | None = Field(
        description="on_track | at_risk | off_track (None without a value or direction)"
    )

    @classmethod
    def of(cls, row: IndicatorTarget, latest: IndicatorValue | None, status: str | None) -> TargetOut:
        return cls(
            area_id=row.area_id, year=row.year, value=row.value, note=row.note, set_at=row.set_at,
            latest_value=latest.value if latest else None, latest_period=latest.period_start if latest else None,
            status=status,
        )  # fmt: skip


class TargetList(BaseModel):
    indicator: str
    items: list[TargetOut]

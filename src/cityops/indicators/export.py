"""Indicator values as CSV (UTF-8 with BOM, so Excel reads Vietnamese) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from cityops.indicators.models import Indicator, IndicatorValue

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (
    "indicator", "area_id", "area", "period_start", "value", "unit", "origin", "inputs", "numerator",
    "denominator", "source_document", "note", "computed_at", "agency_id",
)  # fmt: skip


def _rows(
    indicator: Indicator, values: Sequence[IndicatorValue], names: Mapping[int, str]
) -> list[list[object]]:
    return [
        [
            indicator.code,
            v.area_id,
            names.get(v.area_id, ""),
            v.period_start.isoformat(),
            v.value,
            indicator.unit,
            v.origin,
            v.inputs,
            v.numerator,
            v.denominator,
            v.source_document,
            v.note,
            v.computed_at.isoformat(),
            v.agency_id,
        ]
        for v in values
    ]


def to_csv(indicator: Indicator, values: Sequence[IndicatorValue], names: Mapping[int, str]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    for row in _rows(indicator, values, names):
        writer.writerow(["" if c is None else c for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(indicator: Indicator, values: Sequence[IndicatorValue], names: Mapping[int, str]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = indicator.code[:31]
    ws.append(list(COLUMNS))
    for row in _rows(indicator, values, names):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

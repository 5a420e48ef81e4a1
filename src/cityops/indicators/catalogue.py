"""The indicator sets and the hand-entered indicators, shipped as data (``sets/catalogue.json``).

Computed indicators are declared by the capability or sector that can compute them; what no data of the
platform can compute (budget, broadband, e-government, waste) is entered by hand with its source document.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from cityops.specs import IndicatorSetSpec, IndicatorSource, IndicatorSpec, Period


@cache
def _data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        files("cityops.indicators.sets").joinpath("catalogue.json").read_text("utf-8")
    )
    return data


def sets() -> list[IndicatorSetSpec]:
    return [
        IndicatorSetSpec(**{k: v for k, v in s.items() if not k.startswith("_")}) for s in _data()["sets"]
    ]


def manual_indicators() -> list[IndicatorSpec]:
    out = []
    for raw in _data()["manual"]:
        item = dict(raw)
        out.append(
            IndicatorSpec(
                code=item.pop("code"),
                name_vi=item.pop("name_vi"),
                name_en=item.pop("name_en"),
                unit=item.pop("unit"),
                direction=item.pop("direction"),
                period=Period(item.pop("period")),
                source=IndicatorSource.MANUAL,
                sector=item.pop("sector"),
                levels=tuple(item.pop("levels", ("province", "commune"))),
                sets=tuple((s, n) for s, n in item.pop("sets", [])),
                **item,
            )
        )
    return out

"""Sluice gate recommendations: close before salt water reaches the fields, open when the river is fresh.

A gate (place of type ``sluice_gate``) names its outer station (river side) and the crops it protects. Its
threshold is the lowest harm level of those crops (rice alone: 4 g/L; with fruit trees: 1 g/L). The rule:

* **close** when the outer station's observed peak of the last day, or its forecast peak of the next
  :data:`LOOKAHEAD_HOURS`, reaches the threshold (and the gate is not closed already);
* **open** when both are below :data:`OPEN_SHARE` × the threshold (hysteresis, so a gate does not flap
  around the threshold) and the gate is closed or partly open;
* otherwise **keep** its status. A gate under maintenance, without an outer station or without data
  gets no recommendation ("none").

A recommendation is advice to the operator, who changes the status (with history) through the places API
or the officer workspace.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cityops.sectors.agriculture.crops import Crop, protected, protected_of
from cityops.sectors.agriculture.salinity import StationSalinity

LOOKAHEAD_HOURS = 24
OPEN_SHARE = 0.8
DEFAULT_THRESHOLD = 1.0  # a gate that names no crop protects the most sensitive ones

Action = Literal["close", "open", "keep", "none"]


@dataclass(frozen=True, slots=True)
class Recommendation:
    action: Action
    threshold: float
    observed: float | None
    forecast: float | None
    text_vi: str
    text_en: str


def _g(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def threshold_for(crops: list[Crop]) -> float:
    return min((c.harm_g_l for c in crops), default=DEFAULT_THRESHOLD)


def recommend(
    status: str | None, crops: list[Crop], station: StationSalinity | None, now: datetime
) -> Recommendation:
    """The recommendation for a gate in ``status`` protecting ``crops`` with outer ``station``."""
    limit = threshold_for(crops)
    if status == "maintenance":
        return Recommendation(
            "none", limit, None, None, "Cống đang bảo trì.", "The gate is under maintenance."
        )
    if station is None or station.observed_max is None:
        return Recommendation(
            "none", limit, None, None, "Chưa có số liệu độ mặn phía sông.", "No river-side salinity data."
        )
    seen = station.observed_max
    ahead = station.forecast_max_within(LOOKAHEAD_HOURS, now)
    worst = max(seen, ahead if ahead is not None else seen)
    crops_vi = ", ".join(c.name_vi.lower() for c in crops) or "cây trồng nhạy cảm"
    crops_en = ", ".join(c.name_en.lower() for c in crops) or "sensitive crops"
    basis_vi = f"độ mặn cao nhất phía sông {_g(seen)} g/L" + (
        f", dự báo 24 giờ tới {_g(ahead)} g/L" if ahead is not None else " (chưa có dự báo)"
    )
    basis_en = f"river-side peak salinity {seen:.1f} g/L" + (
        f", forecast for the next 24 h {ahead:.1f} g/L" if ahead is not None else " (no forecast yet)"
    )
    if worst >= limit:
        if status == "closed":
            return Recommendation(
                "keep", limit, seen, ahead,
                f"Giữ cống đóng: {basis_vi}, từ ngưỡng {_g(limit)} g/L gây hại {crops_vi}.",
                f"Keep the gate closed: {basis_en}, at or above the {limit:.1f} g/L that harms {crops_en}.",
            )  # fmt: skip
        return Recommendation(
            "close", limit, seen, ahead,
            f"Đề nghị đóng cống: {basis_vi}, đạt ngưỡng {_g(limit)} g/L gây hại {crops_vi}.",
            f"Close the gate: {basis_en}, reaching the {limit:.1f} g/L that harms {crops_en}.",
        )  # fmt: skip
    if worst < OPEN_SHARE * limit and status in {"closed", "partly_open"}:
        return Recommendation(
            "open", limit, seen, ahead,
            f"Có thể mở cống lấy nước: {basis_vi}, dưới ngưỡng an toàn {_g(OPEN_SHARE * limit)} g/L.",
            f"The gate may be opened: {basis_en}, below the safe {OPEN_SHARE * limit:.1f} g/L.",
        )  # fmt: skip
    return Recommendation(
        "keep", limit, seen, ahead,
        f"Giữ nguyên trạng thái cống: {basis_vi}.",
        f"Keep the gate as it is: {basis_en}.",
    )  # fmt: skip


def recommend_for(
    status: str | None,
    attributes: dict[str, object],
    stations: dict[str, StationSalinity],
    now: datetime,
    crops: dict[str, Crop] | None = None,
) -> Recommendation:
    """:func:`recommend` from a gate place's status and attributes (``crops``: the table in force)."""
    outer = str(attributes.get("outer_station") or "")
    codes = str(attributes.get("protects") or "")
    chosen = protected(codes) if crops is None else protected_of(crops, codes)
    return recommend(status, chosen, stations.get(outer), now)

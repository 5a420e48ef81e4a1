"""Crop salinity tolerances, as data with their source (``data/crops.json``), which administrators may edit
(``agri_crop_tolerances`` overrides a crop's levels and source; :func:`effective` is what is in force).

Each crop has a *caution* level (take water only at low tide, watch closely) and a *harm* level (do not take
water: the crop suffers). Levels are in g/L (≡ ‰ in provincial bulletins). The file says where each figure
comes from; values marked as demo values must be confirmed by the province before real use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.sectors.tables import read_table

Level = Literal["safe", "caution", "harm"]


@dataclass(frozen=True, slots=True)
class Crop:
    code: str
    name_vi: str
    name_en: str
    caution_g_l: float
    harm_g_l: float
    source: str
    intake_vi: str = "lấy nước tưới"  # what "taking water" is for this crop, in the bulletins
    intake_en: str = "irrigation water"

    def level(self, salinity: float) -> Level:
        """safe below the caution level, caution up to the harm level, harm from it on."""
        if salinity >= self.harm_g_l:
            return "harm"
        if salinity >= self.caution_g_l:
            return "caution"
        return "safe"


def crops(rows: list[dict[str, object]] | None = None) -> dict[str, Crop]:
    """The crops by code; a row with caution above harm (or a level ≤ 0) is an error."""
    out: dict[str, Crop] = {}
    for row in rows if rows is not None else read_table("cityops.sectors.agriculture", "crops.json"):
        crop = Crop(**row)
        if not 0 < crop.caution_g_l <= crop.harm_g_l:
            raise ValueError(f"crop {crop.code}: need 0 < caution_g_l <= harm_g_l")
        out[crop.code] = crop
    return out


CROPS: dict[str, Crop] = crops()


def protected(codes: str | None) -> list[Crop]:
    """The crops of a comma-separated list of codes (unknown codes are skipped)."""
    return [CROPS[c.strip()] for c in (codes or "").split(",") if c.strip() in CROPS]


def effective(session: Session) -> dict[str, Crop]:
    """The crops as in force: ``data/crops.json`` with the administrators' edits (one statement)."""
    from dataclasses import replace

    from cityops.sectors.agriculture.models import CropTolerance

    out = dict(CROPS)
    for row in session.scalars(select(CropTolerance)):
        if row.code in out:
            out[row.code] = replace(
                out[row.code], caution_g_l=row.caution_g_l, harm_g_l=row.harm_g_l, source=row.source
            )
    return out


def protected_of(crops: dict[str, Crop], codes: str | None) -> list[Crop]:
    """:func:`protected` against a given crop table."""
    return [crops[c.strip()] for c in (codes or "").split(",") if c.strip() in crops]

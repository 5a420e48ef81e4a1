"""VN_WQI, the Vietnamese water quality index, as Decision 1460/QĐ-TCMT (12 November 2019) computes it.

Source: Quyết định 1460/QĐ-TCMT ngày 12/11/2019 của Tổng cục Môi trường, "Hướng dẫn kỹ thuật tính toán và công
bố chỉ số chất lượng nước Việt Nam (VN_WQI)" (replacing 879/QĐ-TCMT of 2011): the five parameter groups,
Bảng 1 (the six classes, colours and uses), Bảng 2 (pH, DO % saturation), Bảng 3 (BP_i / q_i of the other
parameters), the pesticide limits of group II, Công thức 1/2 and the aggregate formula.

* Groups: I pH; II pesticides (Aldrin, BHC, Dieldrin, DDTs, Heptachlor & Heptachlorepoxide); III heavy
  metals (As, Cd, Pb, Cr6+, Cu, Zn, Hg); IV organics and nutrients (DO, BOD5, COD, TOC, N-NH4, N-NO3, N-NO2,
  P-PO4); V microbiology (Coliform, E. coli).
* Sub-index (Công thức 1/2): linear interpolation between the two breakpoints around the concentration,
  ``WQI_SI = (q_i − q_{i+1}) / (BP_{i+1} − BP_i) × (BP_{i+1} − C_p) + q_{i+1}`` (Công thức 2 is the same line
  written from the other end). Below the first breakpoint of a "less is better" parameter: 100; above the
  last one: 10 (the table's "> BP" column).
* pH: 100 in [6, 8.5]; 50 at 5.5 and 9; 10 below 5.5 or above 9. DO: first as % saturation, with
  ``DO_sat = 14.652 − 0.41022·T + 0.0079910·T² − 0.000077774·T³`` (T in °C) and ``DO% = DO / DO_sat × 100``;
  100 in [88, 112]; 10 below 20 or above 200.
* Group II: 100 at or below the limit, 10 above it.
* Aggregate: ``WQI = WQI_I/100 × (Π WQI_II)^(1/n)/100 × (Π WQI_III)^(1/m)/100 × [(Σ WQI_IV / k)² × Σ WQI_V / l]^(1/3)``,
  rounded to an integer (half up).
* The decision requires at least 3 of the 5 groups and at least 3 parameters of group IV; otherwise there
  is no VN_WQI.

Decisions where the text is silent (stated here so they can be checked): a missing group I, II or III
contributes the factor 1 (it is left out of the product); a missing group V leaves
``[(Σ WQI_IV / k)²]^(1/2)``, i.e. group IV's mean, so the scale stays 0–100. Where Bảng 3 repeats a breakpoint
(N-NH4, Hg, N-NO2), the concentration at it takes the first (higher) q and above it the next segment.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Param(StrEnum):
    PH = "ph"
    ALDRIN = "aldrin"
    BHC = "bhc"
    DIELDRIN = "dieldrin"
    DDTS = "ddts"
    HEPTACHLOR = "heptachlor"
    AS = "as"
    CD = "cd"
    PB = "pb"
    CR6 = "cr6"
    CU = "cu"
    ZN = "zn"
    HG = "hg"
    DO = "do"
    BOD5 = "bod5"
    COD = "cod"
    TOC = "toc"
    NH4 = "n_nh4"
    NO3 = "n_no3"
    NO2 = "n_no2"
    PO4 = "p_po4"
    COLIFORM = "coliform"
    ECOLI = "ecoli"


GROUPS: dict[str, tuple[Param, ...]] = {
    "I": (Param.PH,),
    "II": (Param.ALDRIN, Param.BHC, Param.DIELDRIN, Param.DDTS, Param.HEPTACHLOR),
    "III": (Param.AS, Param.CD, Param.PB, Param.CR6, Param.CU, Param.ZN, Param.HG),
    "IV": (Param.DO, Param.BOD5, Param.COD, Param.TOC, Param.NH4, Param.NO3, Param.NO2, Param.PO4),
    "V": (Param.COLIFORM, Param.ECOLI),
}

#: Units of the inputs: mg/L except pH (none), pesticides (µg/L), DO (mg/L, with temperature in °C)
#: and the microbiology (MPN or CFU/100 mL).
UNITS: dict[Param, str] = {p: "mg/L" for p in Param} | {
    Param.PH: "",
    Param.ALDRIN: "µg/L",
    Param.BHC: "µg/L",
    Param.DIELDRIN: "µg/L",
    Param.DDTS: "µg/L",
    Param.HEPTACHLOR: "µg/L",
    Param.COLIFORM: "MPN/100 mL",
    Param.ECOLI: "MPN/100 mL",
}

#: Group II limits (µg/L): at or below → 100, above → 10.
PESTICIDE_LIMITS: dict[Param, float] = {
    Param.ALDRIN: 0.1,
    Param.BHC: 0.02,
    Param.DIELDRIN: 0.1,
    Param.DDTS: 1.0,
    Param.HEPTACHLOR: 0.2,
}

#: q_i of Bảng 3's columns; the column after the last breakpoint ("> BP") is 10.
Q_COLUMNS: tuple[int, ...] = (100, 75, 50, 25)
#: BP_i of Bảng 3 for the parameters whose quality falls as the concentration rises.
TABLE_3: dict[Param, tuple[float, float, float, float]] = {
    Param.AS: (0.01, 0.02, 0.05, 0.1),
    Param.CD: (0.005, 0.008, 0.01, 0.1),
    Param.PB: (0.02, 0.04, 0.05, 0.5),
    Param.CR6: (0.01, 0.02, 0.04, 0.05),
    Param.CU: (0.1, 0.2, 0.5, 1.0),
    Param.ZN: (0.5, 1.0, 1.5, 2.0),
    Param.HG: (0.001, 0.001, 0.002, 0.01),
    Param.BOD5: (4, 6, 15, 25),
    Param.COD: (10, 15, 30, 50),
    Param.TOC: (4, 6, 15, 25),
    Param.NH4: (0.3, 0.3, 0.9, 0.9),
    Param.NO3: (2, 5, 10, 15),
    Param.NO2: (0.05, 0.05, 0.05, 0.05),
    Param.PO4: (0.1, 0.2, 0.3, 0.5),
    Param.COLIFORM: (2500, 5000, 7500, 10000),
    Param.ECOLI: (20, 50, 100, 200),
}
#: Where Bảng 3 gives a fifth breakpoint (q = 10) the line continues to it; beyond it (or with none) 10.
TABLE_3_Q10: dict[Param, float] = {
    Param.CR6: 0.1,
    Param.CU: 2.0,
    Param.ZN: 3.0,
    Param.BOD5: 50,
    Param.COD: 150,
    Param.TOC: 50,
    Param.NH4: 5,
    Param.PO4: 4,
}

PH_POINTS: tuple[tuple[float, float], ...] = ((5.5, 50), (6.0, 100), (8.5, 100), (9.0, 50))
DO_POINTS: tuple[tuple[float, float], ...] = (
    (20, 25), (50, 50), (75, 75), (88, 100), (112, 100), (125, 75), (150, 50), (200, 25),
)  # fmt: skip


def _interpolate(points: tuple[tuple[float, float], ...], c: float) -> float:
    """Công thức 1/2 over the first segment [BP_i, BP_{i+1}] (BP_i < BP_{i+1}) holding ``c``."""
    for (bp_lo, q_lo), (bp_hi, q_hi) in itertools.pairwise(points):
        if bp_lo < bp_hi and bp_lo <= c <= bp_hi:
            return (q_lo - q_hi) / (bp_hi - bp_lo) * (bp_hi - c) + q_hi
    raise ValueError("concentration outside the table")  # callers handle the ends


def do_saturation(temperature_c: float) -> float:
    """Saturated dissolved oxygen (mg/L) at temperature T (°C), the decision's polynomial."""
    t = temperature_c
    return 14.652 - 0.41022 * t + 0.0079910 * t**2 - 0.000077774 * t**3


def do_percent(do_mg_l: float, temperature_c: float) -> float:
    return do_mg_l / do_saturation(temperature_c) * 100


def sub_index(param: Param, value: float, *, temperature_c: float | None = None) -> float:
    """WQI_SI of one parameter (unrounded). DO needs the water temperature."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{param.value}: a concentration must be a finite number ≥ 0")
    if param is Param.PH:
        if value < 5.5 or value > 9:
            return 10.0
        return _interpolate(PH_POINTS, value)
    if param is Param.DO:
        if temperature_c is None:
            raise ValueError("do: the water temperature is needed for % saturation")
        pct = do_percent(value, temperature_c)
        if pct < 20 or pct > 200:
            return 10.0
        return _interpolate(DO_POINTS, pct)
    if param in PESTICIDE_LIMITS:
        return 100.0 if value <= PESTICIDE_LIMITS[param] else 10.0
    bps = TABLE_3[param]
    if value <= bps[0]:
        return 100.0
    points = tuple(zip(bps, Q_COLUMNS, strict=True))
    q10 = TABLE_3_Q10.get(param)
    if q10 is not None:
        points += ((q10, 10),)
    if value > points[-1][0]:
        return 10.0
    # A repeated breakpoint: at it the first (higher) q; just above it the segment that follows.
    for bp, q in points:
        if value == bp:
            return float(q)
    return _interpolate(points, value)


@dataclass(frozen=True, slots=True)
class WqiClass:
    """One of the six VN_WQI classes (Bảng 1)."""

    low: int
    high: int
    label_vi: str
    label_en: str
    use_vi: str
    use_en: str
    rgb: tuple[int, int, int]

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


CLASSES: tuple[WqiClass, ...] = (
    WqiClass(91, 100, "Rất tốt", "Very good", "Sử dụng tốt cho mục đích cấp nước sinh hoạt",
             "Good for drinking-water supply", (51, 51, 255)),
    WqiClass(76, 90, "Tốt", "Good", "Sử dụng cho cấp nước sinh hoạt nhưng cần xử lý phù hợp",
             "Drinking-water supply with suitable treatment", (0, 228, 0)),
    WqiClass(51, 75, "Trung bình", "Medium", "Sử dụng cho tưới tiêu và các mục đích tương đương",
             "Irrigation and similar uses", (255, 255, 0)),
    WqiClass(26, 50, "Xấu", "Poor", "Sử dụng cho giao thông thủy và các mục đích tương đương",
             "Navigation and similar uses", (255, 126, 0)),
    WqiClass(10, 25, "Kém", "Bad", "Nước ô nhiễm nặng, cần các biện pháp xử lý trong tương lai",
             "Heavily polluted, needs treatment", (255, 0, 0)),
    WqiClass(0, 9, "Ô nhiễm rất nặng", "Very heavily polluted", "Nước nhiễm độc, cần biện pháp khắc phục, xử lý",
             "Toxic water, remedial action needed", (126, 0, 35)),
)  # fmt: skip


def class_for(wqi: int) -> WqiClass:
    if wqi < 0 or wqi > 100:
        raise ValueError("VN_WQI lies in 0–100")
    return next(c for c in CLASSES if c.low <= wqi <= c.high)


@dataclass(frozen=True, slots=True)
class WqiResult:
    """A VN_WQI with the group values and sub-indices it came from; ``wqi`` None with a reason when not computable."""

    wqi: int | None
    exact: float | None = None
    groups: dict[str, float] = field(default_factory=dict)
    sub_indices: dict[str, float] = field(default_factory=dict)
    reason: str | None = None

    @property
    def wqi_class(self) -> WqiClass | None:
        return None if self.wqi is None else class_for(self.wqi)


def vn_wqi(values: Mapping[Param | str, float | None], *, temperature_c: float | None = None) -> WqiResult:
    """VN_WQI of one sample: ``values`` by parameter (units in :data:`UNITS`); ``temperature_c`` for DO."""
    subs: dict[Param, float] = {}
    for key, value in values.items():
        if value is None:
            continue
        param = Param(key)
        if param is Param.DO and temperature_c is None:
            continue  # DO without temperature cannot be turned into % saturation
        subs[param] = sub_index(param, float(value), temperature_c=temperature_c)
    present = {g: [subs[p] for p in params if p in subs] for g, params in GROUPS.items()}
    present = {g: v for g, v in present.items() if v}
    sub_out = {p.value: round(v, 4) for p, v in subs.items()}
    if len(present) < 3:
        return WqiResult(None, sub_indices=sub_out, reason="fewer than 3 parameter groups")
    if len(present.get("IV", [])) < 3:
        return WqiResult(None, sub_indices=sub_out, reason="fewer than 3 parameters of group IV")
    groups: dict[str, float] = {}
    factor = 1.0
    for g in ("I", "II", "III"):
        if g in present:
            vals = present[g]
            groups[g] = math.prod(vals) ** (1 / len(vals))
            factor *= groups[g] / 100
    groups["IV"] = sum(present["IV"]) / len(present["IV"])
    if "V" in present:
        groups["V"] = sum(present["V"]) / len(present["V"])
        core = (groups["IV"] ** 2 * groups["V"]) ** (1 / 3)
    else:
        core = groups["IV"]
    exact = factor * core
    return WqiResult(
        math.floor(exact + 0.5),
        exact=round(exact, 4),
        groups={g: round(v, 4) for g, v in groups.items()},
        sub_indices=sub_out,
    )

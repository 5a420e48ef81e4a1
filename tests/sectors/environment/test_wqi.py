"""VN_WQI worked examples, computed by hand from Decision 1460/QĐ-TCMT (2019).

Sub-index (Công thức 1/2): WQI_SI = (q_i − q_{i+1}) / (BP_{i+1} − BP_i) × (BP_{i+1} − C_p) + q_{i+1}.
DO: DO_sat = 14.652 − 0.41022·T + 0.0079910·T² − 0.000077774·T³; DO% = DO / DO_sat × 100.
WQI = WQI_I/100 × (Π WQI_II)^(1/n)/100 × (Π WQI_III)^(1/m)/100 × [(Σ WQI_IV/k)² × Σ WQI_V/l]^(1/3).
"""

from __future__ import annotations

import math

import pytest

from cityops.sectors.environment.wqi import CLASSES, Param, class_for, do_saturation, sub_index, vn_wqi


def test_do_saturation_at_29_degrees() -> None:
    # 14.652 − 0.41022×29 + 0.0079910×841 − 0.000077774×24389
    # = 14.652 − 11.89638 + 6.720431 − 1.896830 = 7.579221 mg/L
    assert do_saturation(29) == pytest.approx(7.579221, abs=1e-6)


def test_do_sub_index_from_percent_saturation() -> None:
    # 5.6 / 7.579221 × 100 = 73.886 % → segment 50–75 % (q 50–75): (50 − 75)/25 × (75 − 73.886) + 75 = 73.886
    assert sub_index(Param.DO, 5.6, temperature_c=29) == pytest.approx(73.886, abs=1e-3)
    # 7.0 mg/L at 29 °C = 92.4 % → inside 88–112 %: 100
    assert sub_index(Param.DO, 7.0, temperature_c=29) == 100
    # 1.0 mg/L = 13.2 % < 20 %: 10
    assert sub_index(Param.DO, 1.0, temperature_c=29) == 10


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        # BOD5 8 mg/L: BP 6–15, q 75–50 → 25/9 × (15 − 8) + 50 = 69.444
        (Param.BOD5, 8, 69.444),
        # COD 20 mg/L: BP 15–30, q 75–50 → 25/15 × 10 + 50 = 66.667
        (Param.COD, 20, 66.667),
        # N-NH4 0.5 mg/L: BP 0.3–0.9, q 75–50 → 25/0.6 × 0.4 + 50 = 66.667
        (Param.NH4, 0.5, 66.667),
        # P-PO4 0.25 mg/L: BP 0.2–0.3, q 75–50 → 25/0.1 × 0.05 + 50 = 62.5
        (Param.PO4, 0.25, 62.5),
        # Coliform 4600 MPN/100 mL: BP 2500–5000, q 100–75 → 25/2500 × 400 + 75 = 79
        (Param.COLIFORM, 4600, 79.0),
        # E. coli 30: BP 20–50, q 100–75 → 25/30 × 20 + 75 = 91.667
        (Param.ECOLI, 30, 91.667),
        # As 0.03 mg/L: BP 0.02–0.05, q 75–50 → 25/0.03 × 0.02 + 50 = 66.667
        (Param.AS, 0.03, 66.667),
        # BOD5 40: BP 25–50 (the q = 10 column), q 25–10 → 15/25 × 10 + 10 = 16
        (Param.BOD5, 40, 16.0),
        # pH 8.8: BP 8.5–9, q 100–50 → 50/0.5 × 0.2 + 50 = 70
        (Param.PH, 8.8, 70.0),
        # pH 5.8: BP 5.5–6, q 50–100 → line through (5.5, 50) and (6, 100): 50 + 100 × 0.3 = 80
        (Param.PH, 5.8, 80.0),
    ],
)
def test_sub_indices(param: Param, value: float, expected: float) -> None:
    assert sub_index(param, value) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("param", "value", "expected"),
    [
        (Param.BOD5, 4, 100),  # at the first breakpoint
        (Param.BOD5, 60, 10),  # above the last
        (Param.NH4, 0.9, 50),  # a repeated breakpoint takes the first q
        (Param.NH4, 0.95, 24.817),  # just above it: BP 0.9–5, q 25–10 → 15/4.1 × 4.05 + 10 = 24.817
        (Param.NO2, 0.05, 100),
        (Param.NO2, 0.06, 10),
        (Param.ALDRIN, 0.1, 100),  # pesticides: at the limit 100
        (Param.ALDRIN, 0.11, 10),  # above it 10
        (Param.PH, 9.1, 10),
        (Param.PH, 7.0, 100),
    ],
)
def test_ends_and_step_parameters(param: Param, value: float, expected: float) -> None:
    assert sub_index(param, value) == pytest.approx(expected, abs=1e-3)


def test_worked_sample_groups_i_iv_v() -> None:
    # pH 7.2 → 100; IV: DO 73.886, BOD5 69.444, COD 66.667, N-NH4 66.667, P-PO4 62.5 → mean 67.833;
    # V: Coliform 79. WQI = 100/100 × (67.833² × 79)^(1/3) = (4601.3 × 79)^(1/3) = 71.37 → 71 ("Trung bình").
    sample = {"ph": 7.2, "do": 5.6, "bod5": 8, "cod": 20, "n_nh4": 0.5, "p_po4": 0.25, "coliform": 4600}
    result = vn_wqi(sample, temperature_c=29)
    assert result.groups["IV"] == pytest.approx(67.833, abs=1e-3)
    assert result.exact == pytest.approx(71.368, abs=1e-3)
    assert result.wqi == 71
    assert result.wqi_class is not None
    assert result.wqi_class.label_vi == "Trung bình"


def test_worked_sample_all_five_groups() -> None:
    # I: pH 8.8 → 70. II: Aldrin 0.05 ≤ 0.1 → 100. III: As 0.03 → 66.667, Pb 0.01 ≤ 0.02 → 100:
    # √(66.667 × 100) = 81.650. IV: DO 73.886, BOD5 69.444, COD 66.667, N-NH4 66.667 → 69.166.
    # V: Coliform 79, E. coli 91.667 → 85.333.
    # WQI = 0.70 × 1.00 × 0.81650 × (69.166² × 85.333)^(1/3) = 0.57155 × 74.183 = 42.40 → 42 ("Xấu").
    sample = {
        "ph": 8.8, "aldrin": 0.05, "as": 0.03, "pb": 0.01, "do": 5.6, "bod5": 8, "cod": 20, "n_nh4": 0.5,
        "coliform": 4600, "ecoli": 30,
    }  # fmt: skip
    result = vn_wqi(sample, temperature_c=29)
    assert result.groups["III"] == pytest.approx(81.650, abs=1e-3)
    assert result.groups["V"] == pytest.approx(85.333, abs=1e-3)
    core = (69.166**2 * 85.333) ** (1 / 3)
    assert result.exact == pytest.approx(0.70 * 0.81650 * core, abs=0.01)
    assert result.wqi == 42
    assert result.wqi_class is not None
    assert result.wqi_class.label_en == "Poor"


def test_a_pesticide_above_its_limit_divides_by_ten() -> None:
    clean = {"ph": 7.0, "do": 7.0, "bod5": 3, "cod": 8, "n_nh4": 0.1, "coliform": 1000, "ddts": 0.5}
    assert vn_wqi(clean, temperature_c=29).wqi == 100
    # DDTs 1.5 µg/L > 1.0 → 10: group II = 10, factor 0.1 → WQI 10 ("Kém")
    dirty = vn_wqi(clean | {"ddts": 1.5}, temperature_c=29)
    assert dirty.wqi == 10
    assert dirty.wqi_class is not None
    assert dirty.wqi_class.label_vi == "Kém"


def test_needs_three_groups_and_three_group_iv_parameters() -> None:
    two_groups = vn_wqi({"do": 7.0, "bod5": 3, "cod": 8, "coliform": 1000}, temperature_c=29)
    assert two_groups.wqi is None
    assert two_groups.reason == "fewer than 3 parameter groups"
    thin_iv = vn_wqi({"ph": 7, "bod5": 3, "cod": 8, "coliform": 1000, "as": 0.001})
    assert thin_iv.wqi is None
    assert thin_iv.reason == "fewer than 3 parameters of group IV"
    # DO without temperature is left out, so the same sample with it computes
    assert vn_wqi({"ph": 7, "do": 7.0, "bod5": 3, "cod": 8, "coliform": 1000}, temperature_c=29).wqi == 100


def test_missing_group_v_keeps_group_iv_mean() -> None:
    # I 100, III As 0.03 → 66.667, IV BOD5 8, COD 20, N-NH4 0.5 → 67.593; no V: 0.66667 × 67.593 = 45.06 → 45
    result = vn_wqi({"ph": 7, "as": 0.03, "bod5": 8, "cod": 20, "n_nh4": 0.5})
    assert result.exact == pytest.approx(2 / 3 * (69.4444 + 66.6667 + 66.6667) / 3, abs=1e-3)
    assert result.wqi == 45


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="finite number"):
        sub_index(Param.BOD5, -1)
    with pytest.raises(ValueError, match="finite number"):
        sub_index(Param.COD, math.nan)
    with pytest.raises(ValueError, match="temperature"):
        sub_index(Param.DO, 5.0)
    with pytest.raises(ValueError, match="lead"):
        vn_wqi({"lead": 0.1})


@pytest.mark.parametrize(
    ("wqi", "label", "rgb"),
    [(100, "Rất tốt", (51, 51, 255)), (91, "Rất tốt", (51, 51, 255)), (90, "Tốt", (0, 228, 0)),
     (75, "Trung bình", (255, 255, 0)), (50, "Xấu", (255, 126, 0)), (25, "Kém", (255, 0, 0)),
     (9, "Ô nhiễm rất nặng", (126, 0, 35))],
)  # fmt: skip
def test_classes(wqi: int, label: str, rgb: tuple[int, int, int]) -> None:
    assert class_for(wqi).label_vi == label
    assert class_for(wqi).rgb == rgb


def test_classes_cover_zero_to_hundred_once() -> None:
    covered = sorted(v for c in CLASSES for v in range(c.low, c.high + 1))
    assert covered == list(range(101))
    assert class_for(91).hex == "#3333FF"
    with pytest.raises(ValueError, match="0–100"):
        class_for(101)

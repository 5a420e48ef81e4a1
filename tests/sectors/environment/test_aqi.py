"""VN_AQI worked examples, computed by hand from Decision 1459/QĐ-TCMT (2019).

Formula (Công thức 1/2): AQI_x = (I_{i+1} − I_i) / (BP_{i+1} − BP_i) × (C_x − BP_i) + I_i, rounded half up.
Nowcast: w* = c_min/c_max over 12 h; w = w* if w* > 1/2 else 1/2; Nowcast = Σ w^(i−1) c_i / Σ w^(i−1).
"""

from __future__ import annotations

import pytest

from cityops.sectors.environment.aqi import (
    BANDS,
    Pollutant,
    band_for,
    daily_aqi,
    daily_aqi_from_hours,
    hourly_aqi,
    max_8h_mean,
    nowcast,
    sub_index,
    sub_index_exact,
)


def test_pm25_interpolation_inside_a_segment() -> None:
    # C = 35 µg/m³ lies in BP 25–50 (I 50–100): 50/25 × (35 − 25) + 50 = 2 × 10 + 50 = 70
    assert sub_index(Pollutant.PM25, 35) == 70


@pytest.mark.parametrize(
    ("pollutant", "conc", "expected"),
    [
        # O3 1 h, C = 180: BP 160–200, I 50–100 → 50/40 × 20 + 50 = 75
        (Pollutant.O3_1H, 180, 75),
        # CO, C = 35000: BP 30000–45000, I 100–150 → 50/15000 × 5000 + 100 = 116.67 → 117
        (Pollutant.CO, 35000, 117),
        # NO2, C = 150: BP 100–200, I 50–100 → 0.5 × 50 + 50 = 75
        (Pollutant.NO2, 150, 75),
        # SO2, C = 200: BP 125–350, I 50–100 → 50/225 × 75 + 50 = 66.67 → 67
        (Pollutant.SO2, 200, 67),
        # PM10, C = 380: BP 350–420, I 200–300 → 100/70 × 30 + 200 = 242.86 → 243
        (Pollutant.PM10, 380, 243),
        # O3 8 h, C = 130: BP 120–170, I 100–150 → 50/50 × 10 + 100 = 110
        (Pollutant.O3_8H, 130, 110),
        # O3 1 h, C = 450: BP 400–800, I 200–300 → 100/400 × 50 + 200 = 212.5 → 213 (half up)
        (Pollutant.O3_1H, 450, 213),
    ],
)
def test_sub_indices_of_each_table(pollutant: Pollutant, conc: float, expected: int) -> None:
    assert sub_index(pollutant, conc) == expected


@pytest.mark.parametrize(
    ("conc", "expected"),
    [(0, 0), (25, 50), (50, 100), (80, 150), (150, 200), (250, 300), (350, 400), (500, 500)],
)
def test_pm25_breakpoints_map_to_their_index_values(conc: float, expected: int) -> None:
    # At a breakpoint both neighbouring segments give I_i exactly.
    assert sub_index_exact(Pollutant.PM25, conc) == expected


def test_beyond_the_tables() -> None:
    # Above the last PM2.5 breakpoint (500) the scale tops out at 500.
    assert sub_index(Pollutant.PM25, 650) == 500
    # The O3 8-hour table stops at 400 µg/m³: no 8-hour sub-index above it.
    assert sub_index(Pollutant.O3_8H, 400) == 300
    assert sub_index(Pollutant.O3_8H, 401) is None
    # Missing or negative concentrations have no sub-index.
    assert sub_index(Pollutant.NO2, None) is None
    assert sub_index(Pollutant.NO2, -1) is None


def test_nowcast_constant_series_is_the_value() -> None:
    # 12 hours of 30: w* = 30/30 = 1 > 1/2 → w = 1 → plain mean = 30 → AQI 2 × 5 + 50 = 60
    assert nowcast([30.0] * 12) == pytest.approx(30.0)
    assert hourly_aqi(pm25_hours=[30.0] * 12).aqi == 60


def test_nowcast_weight_above_one_half() -> None:
    # c1 = 40, c2 = 32, c3 missing: w* = 32/40 = 0.8 > 1/2 → w = 0.8
    # Nowcast = (40 + 0.8 × 32) / (1 + 0.8) = 65.6 / 1.8 = 36.444
    # AQI: BP 25–50 → 2 × (36.444 − 25) + 50 = 72.89 → 73
    assert nowcast([40.0, 32.0, None]) == pytest.approx(36.4444, abs=1e-3)
    assert hourly_aqi(pm25_hours=[40.0, 32.0, None]).aqi == 73


def test_nowcast_weight_floored_at_one_half() -> None:
    # c = 40, 30, 20: w* = 20/40 = 0.5, not > 1/2 → w = 1/2
    # Nowcast = (40 + 0.5 × 30 + 0.25 × 20) / (1 + 0.5 + 0.25) = 60 / 1.75 = 34.286
    # AQI = 2 × 9.286 + 50 = 68.57 → 69
    assert nowcast([40.0, 30.0, 20.0]) == pytest.approx(34.2857, abs=1e-3)
    assert hourly_aqi(pm25_hours=[40.0, 30.0, 20.0]).aqi == 69
    # c = 10, 100: w* = 0.1 → w = 1/2 → (10 + 50) / 1.5 = 40 → AQI 2 × 15 + 50 = 80
    assert nowcast([10.0, 100.0]) == pytest.approx(40.0)


def test_nowcast_twelve_hours_matches_the_decisions_half_form() -> None:
    # c1 = 80, c2..c12 = 40: w* = 0.5 → w = 1/2.
    # Normalised: (80 + 40 × Σ_{i=1..11} 0.5^i) / Σ_{i=0..11} 0.5^i = 119.98047 / 1.99951 = 60.0049
    # The decision's Σ (1/2)^i c_i = 40 + 40 × (0.5 − 0.5^12) = 59.9902 — same AQI:
    # BP 50–80, I 100–150: 50/30 × 10.0049 + 100 = 116.67 → 117 (and 116.65 → 117)
    hours = [80.0] + [40.0] * 11
    assert nowcast(hours) == pytest.approx(60.0049, abs=1e-3)
    assert hourly_aqi(pm25_hours=hours).aqi == 117
    # Values beyond the 12th hour are ignored.
    assert nowcast([*hours, 500.0, 500.0]) == pytest.approx(60.0049, abs=1e-3)


def test_nowcast_needs_two_of_the_last_three_hours() -> None:
    # Only c1 among c1..c3: no Nowcast, hence no PM sub-index and no AQI.
    assert nowcast([40.0, None, None, 30.0, 30.0]) is None
    assert hourly_aqi(pm25_hours=[40.0, None, None, 30.0]).aqi is None
    # c1 missing, c2 = 40, c3 = 30 keep their exponents: w* = 0.75
    # (0.75 × 40 + 0.5625 × 30) / (0.75 + 0.5625) = 46.875 / 1.3125 = 35.714 → AQI 71.43 → 71
    assert nowcast([None, 40.0, 30.0]) == pytest.approx(35.7143, abs=1e-3)
    assert hourly_aqi(pm25_hours=[None, 40.0, 30.0]).aqi == 71
    assert nowcast([0.0, 0.0, 0.0]) == 0.0


def test_hourly_overall_is_the_maximum_sub_index() -> None:
    # PM2.5 Nowcast 30 → 60; O3 180 → 75; NO2 160 → 0.6 × 50 + 50 = 80; CO 5000 → 25
    result = hourly_aqi(pm25_hours=[30.0] * 12, o3=180, no2=160, co=5000)
    assert result.sub_indices == {"pm25": 60, "o3_1h": 75, "no2": 80, "co": 25}
    assert result.aqi == 80
    assert result.dominant == "no2"
    assert result.band is not None
    assert result.band.label_en == "Moderate"


def test_no_aqi_without_pm10_or_pm25() -> None:
    result = hourly_aqi(o3=180, no2=160)
    assert result.aqi is None
    assert result.band is None
    assert result.sub_indices == {"o3_1h": 75, "no2": 80}
    # PM10 alone is enough: 3 hours of 100 → w = 1 → 100 → BP 50–150, I 50–100: 0.5 × 50 + 50 = 75
    assert hourly_aqi(pm10_hours=[100.0, 100.0, 100.0], no2=160).aqi == 80


def test_daily_aqi_from_24h_means() -> None:
    # PM2.5 35 → 70; PM10 380 → 243; CO 35000 → 117 → AQI 243, "Rất xấu" (purple)
    result = daily_aqi(pm25=35, pm10=380, co=35000)
    assert result.aqi == 243
    assert result.dominant == "pm10"
    assert result.band is not None
    assert (result.band.label_vi, result.band.rgb) == ("Rất xấu", (143, 63, 151))


def test_daily_o3_takes_the_larger_of_1h_and_8h() -> None:
    # 1-h max 180 → 75; 8-h max 130 → 110 → O3 sub-index 110 (8 h); PM2.5 20 → 40 → AQI 110
    result = daily_aqi(pm25=20, o3_1h_max=180, o3_8h_max=130)
    assert result.sub_indices == {"pm25": 40, "o3_8h": 110}
    assert result.aqi == 110
    # 8-h mean 450 > 400: only the 1-h value counts; 1-h max 450 → 213
    result = daily_aqi(pm25=20, o3_1h_max=450, o3_8h_max=450)
    assert result.sub_indices["o3_1h"] == 213
    assert "o3_8h" not in result.sub_indices


def test_daily_from_hourly_series() -> None:
    # PM2.5: 12 hours of 20 and 12 of 30 → mean 25 → 50
    # O3: 0 except hours 8..15 at 130 → highest 8-h mean 130 → 110; highest 1-h 130 → 50/160 × 130 = 40.6 → 41
    o3 = [0.0] * 8 + [130.0] * 8 + [0.0] * 8
    result = daily_aqi_from_hours({Pollutant.PM25: [20.0] * 12 + [30.0] * 12, Pollutant.O3_1H: o3})
    assert result.sub_indices == {"pm25": 50, "o3_8h": 110}
    assert result.aqi == 110
    assert max_8h_mean(o3) == pytest.approx(130.0)
    # Only 17 of 24 hours present: no 24-h mean, hence no AQI.
    sparse: list[float | None] = [30.0] * 17 + [None] * 7
    assert daily_aqi_from_hours({Pollutant.PM25: sparse}).aqi is None


@pytest.mark.parametrize(
    ("aqi", "label_vi", "label_en", "rgb"),
    [
        (0, "Tốt", "Good", (0, 228, 0)),
        (50, "Tốt", "Good", (0, 228, 0)),
        (51, "Trung bình", "Moderate", (255, 255, 0)),
        (100, "Trung bình", "Moderate", (255, 255, 0)),
        (101, "Kém", "Poor", (255, 126, 0)),
        (150, "Kém", "Poor", (255, 126, 0)),
        (151, "Xấu", "Bad", (255, 0, 0)),
        (200, "Xấu", "Bad", (255, 0, 0)),
        (201, "Rất xấu", "Very bad", (143, 63, 151)),
        (300, "Rất xấu", "Very bad", (143, 63, 151)),
        (301, "Nguy hại", "Hazardous", (126, 0, 35)),
        (500, "Nguy hại", "Hazardous", (126, 0, 35)),
    ],
)
def test_bands(aqi: int, label_vi: str, label_en: str, rgb: tuple[int, int, int]) -> None:
    band = band_for(aqi)
    assert (band.label_vi, band.label_en, band.rgb) == (label_vi, label_en, rgb)


def test_band_hex_and_negative() -> None:
    assert BANDS[0].hex == "#00E400"
    assert BANDS[-1].hex == "#7E0023"
    with pytest.raises(ValueError, match="negative"):
        band_for(-1)

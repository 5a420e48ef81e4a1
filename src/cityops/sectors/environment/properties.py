"""The environment sector's observed properties: codes, Vietnamese/English names, UCUM units, valid ranges.

Units are UCUM case-sensitive codes (https://ucum.org/ucum): ``ug/m3`` for µg/m³, ``g/L``, ``mS/cm``,
``mg/L``, ``[NTU]``, ``Cel``, ``m``, ``mm``; noise in dB(A) is ``dB{A}`` (UCUM has no A-weighting, so the
weighting is a UCUM annotation).

Definitions point at Smart Data Models attributes (AirQualityObserved, WaterQualityObserved,
NoiseLevelObserved, WaterObserved) where one exists, otherwise at a QUDT quantity kind.

Notes on Vietnamese practice:
- CO is reported in µg/m³, as in QCVN 05:2023/BTNMT and the VN_AQI breakpoints (Decision 1459/QĐ-TCMT).
- Salinity of river water is reported in g/L, which Vietnamese bulletins write as ‰ (per mille); for the
  brackish water of the Vàm Cỏ rivers the two are numerically the same (1 g/L ≡ 1 ‰).
- Water level is in metres relative to the station's datum (``datum`` attribute of the Thing, usually
  the national Hòn Dấu height datum); alarm levels I/II/III are declared per station in the same datum
  (the Thing's ``alarm_levels``, read by the water-level rule template in ``data/rules.json``).

The ``valid_min``/``valid_max`` pair is the physically plausible range of the range check
(:func:`cityops.sensing.quality.range_check`); it is not a regulatory limit.
"""

from __future__ import annotations

from cityops.specs import PropertySpec

SDM_ENV = "https://smartdatamodels.org/dataModel.Environment/"
QUDT_QK = "http://qudt.org/vocab/quantitykind/"


def _p(
    code: str,
    vi: str,
    en: str,
    definition: str,
    unit: str,
    unit_name: str,
    lo: float,
    hi: float,
    description: str = "",
) -> PropertySpec:
    return PropertySpec(code, vi, en, definition, unit, unit_name, lo, hi, description, "environment")


AIR_PROPERTIES: tuple[PropertySpec, ...] = (
    _p("pm25", "Bụi PM2.5", "PM2.5", SDM_ENV + "pm25", "ug/m3", "microgram per cubic metre", 0, 1000),
    _p("pm10", "Bụi PM10", "PM10", SDM_ENV + "pm10", "ug/m3", "microgram per cubic metre", 0, 2000),
    _p("o3", "Ôzôn (O3)", "Ozone (O3)", SDM_ENV + "o3", "ug/m3", "microgram per cubic metre", 0, 2000),
    _p(
        "no2",
        "Nitơ điôxit (NO2)",
        "Nitrogen dioxide (NO2)",
        SDM_ENV + "no2",
        "ug/m3",
        "microgram per cubic metre",
        0,
        5000,
    ),
    _p(
        "so2",
        "Lưu huỳnh điôxit (SO2)",
        "Sulphur dioxide (SO2)",
        SDM_ENV + "so2",
        "ug/m3",
        "microgram per cubic metre",
        0,
        5000,
    ),
    _p(
        "co",
        "Cacbon monoxit (CO)",
        "Carbon monoxide (CO)",
        SDM_ENV + "co",
        "ug/m3",
        "microgram per cubic metre",
        0,
        200000,
        "In µg/m³ as QCVN 05:2023/BTNMT and VN_AQI use it (1 mg/m³ = 1000 µg/m³).",
    ),
    _p(
        "aqi",
        "Chỉ số chất lượng không khí (VN_AQI)",
        "Air quality index (VN_AQI)",
        "https://smartdatamodels.org/dataModel.Environment/airQualityIndex",
        "{AQI}",
        "VN_AQI index",
        0,
        500,
        "Hourly VN_AQI per Decision 1459/QĐ-TCMT (see cityops.sectors.environment.aqi).",
    ),
)

WATER_PROPERTIES: tuple[PropertySpec, ...] = (
    _p(
        "salinity",
        "Độ mặn",
        "Salinity",
        SDM_ENV + "salinity",
        "g/L",
        "gram per litre",
        0,
        45,
        "g/L, written ‰ in Vietnamese bulletins (1 g/L ≡ 1 ‰ for river water). "
        "1 g/L harms sensitive crops, 4 g/L harms rice.",
    ),
    _p(
        "conductivity",
        "Độ dẫn điện",
        "Electrical conductivity",
        SDM_ENV + "conductivity",
        "mS/cm",
        "millisiemens per centimetre",
        0,
        80,
    ),
    _p("ph", "Độ pH", "pH", SDM_ENV + "pH", "[pH]", "pH", 0, 14),
    _p(
        "dissolved_oxygen",
        "Ôxy hòa tan (DO)",
        "Dissolved oxygen",
        SDM_ENV + "O2",
        "mg/L",
        "milligram per litre",
        0,
        25,
    ),
    _p(
        "turbidity",
        "Độ đục",
        "Turbidity",
        SDM_ENV + "turbidity",
        "[NTU]",
        "nephelometric turbidity unit",
        0,
        4000,
    ),
    _p(
        "water_temperature",
        "Nhiệt độ nước",
        "Water temperature",
        SDM_ENV + "temperature",
        "Cel",
        "degree Celsius",
        0,
        45,
    ),
    _p(
        "water_level",
        "Mực nước",
        "Water level",
        QUDT_QK + "Height",
        "m",
        "metre",
        -5,
        10,
        "Metres relative to the station's datum (Thing property ``datum``), alarm levels I/II/III likewise.",
    ),
    _p("rainfall", "Lượng mưa", "Rainfall", SDM_ENV + "precipitation", "mm", "millimetre", 0, 500),
)

#: Laboratory parameters of VN_WQI (Decision 1460/QĐ-TCMT), entered from water samples (no probe measures them).
LAB = "Laboratory result of a water sample, an input of VN_WQI (Decision 1460/QĐ-TCMT)."
WATER_LAB_PROPERTIES: tuple[PropertySpec, ...] = (
    _p("bod5", "Nhu cầu ôxy sinh hóa (BOD5)", "Biochemical oxygen demand (BOD5)", SDM_ENV + "BOD",
       "mg/L", "milligram per litre", 0, 1000, LAB),
    _p("cod", "Nhu cầu ôxy hóa học (COD)", "Chemical oxygen demand (COD)", SDM_ENV + "COD",
       "mg/L", "milligram per litre", 0, 5000, LAB),
    _p("n_nh4", "Amoni (N-NH4)", "Ammonium (N-NH4)", SDM_ENV + "NH4", "mg/L", "milligram per litre", 0, 500, LAB),
    _p("n_no3", "Nitrat (N-NO3)", "Nitrate (N-NO3)", SDM_ENV + "NO3", "mg/L", "milligram per litre", 0, 500, LAB),
    _p("n_no2", "Nitrit (N-NO2)", "Nitrite (N-NO2)", SDM_ENV + "NO2", "mg/L", "milligram per litre", 0, 100, LAB),
    _p("p_po4", "Phốt phát (P-PO4)", "Phosphate (P-PO4)", SDM_ENV + "PO4", "mg/L", "milligram per litre", 0, 100,
       LAB),
    _p("coliform", "Coliform", "Coliform", SDM_ENV + "coliform", "[MPN]/100mL", "MPN per 100 millilitre", 0,
       10_000_000, LAB),
    _p("e_coli", "E. coli", "E. coli", SDM_ENV + "Ecoli", "[MPN]/100mL", "MPN per 100 millilitre", 0,
       10_000_000, LAB),
)  # fmt: skip

NOISE_PROPERTIES: tuple[PropertySpec, ...] = (
    _p(
        "noise",
        "Tiếng ồn",
        "Noise level",
        SDM_ENV + "LAeq",
        "dB{A}",
        "A-weighted decibel",
        20,
        140,
        "Equivalent continuous A-weighted sound level (LAeq).",
    ),
)

PROPERTIES: tuple[PropertySpec, ...] = (
    AIR_PROPERTIES + WATER_PROPERTIES + WATER_LAB_PROPERTIES + NOISE_PROPERTIES
)
BY_CODE: dict[str, PropertySpec] = {p.code: p for p in PROPERTIES}

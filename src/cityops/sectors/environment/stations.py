"""The pilot's monitoring stations (demo): salinity and water level along the Vàm Cỏ rivers, air quality
in Tân An and Đức Hòa, traffic counters on QL1 and QL62.

Coordinates are approximate (placed on the river or road near the named town); distances to the sea are
measured along the Vàm Cỏ → Soài Rạp channel and are approximate too. Water-level alarm levels I/II/III are
demo values in metres above the Hòn Dấu datum: replace them with the levels the province declares for each
station (they are read from the Thing's ``alarm_levels`` property, so an operator can edit them).
"""

from __future__ import annotations

from cityops.sensing.simulator import StationSpec

WATER = ("salinity", "conductivity", "water_level", "water_temperature")
AIR = ("pm25", "pm10")
TRAFFIC = ("traffic_motorbike", "traffic_car", "traffic_heavy", "mean_speed")

STATIONS: tuple[StationSpec, ...] = (
    StationSpec(
        code="VCT-TANAN",
        name="Trạm Tân An – sông Vàm Cỏ Tây",
        kind="water",
        lat=10.5290,
        lon=106.4140,
        properties=WATER,
        river="Vàm Cỏ Tây",
        area_name="Phường Tân An",
        distance_to_sea_km=62,
        datum="Hòn Dấu",
        alarm_levels={"I": 1.20, "II": 1.40, "III": 1.60},
        tide_amplitude_m=0.85,
        tide_phase_h=3.0,
    ),
    StationSpec(
        code="VCD-BENLUC",
        name="Trạm Bến Lức – sông Vàm Cỏ Đông",
        kind="water",
        lat=10.6380,
        lon=106.4870,
        properties=WATER,
        river="Vàm Cỏ Đông",
        area_name="Xã Bến Lức",
        distance_to_sea_km=56,
        datum="Hòn Dấu",
        alarm_levels={"I": 1.30, "II": 1.50, "III": 1.70},
        tide_amplitude_m=0.9,
        tide_phase_h=2.6,
    ),
    StationSpec(
        code="VC-TANTRU",
        name="Trạm Tân Trụ – sông Vàm Cỏ",
        kind="water",
        lat=10.5160,
        lon=106.5150,
        properties=WATER,
        river="Vàm Cỏ",
        area_name="Xã Tân Trụ",
        distance_to_sea_km=45,
        datum="Hòn Dấu",
        tide_amplitude_m=1.0,
        tide_phase_h=2.0,
    ),
    StationSpec(
        code="VC-CANDUOC",
        name="Trạm Cần Đước – sông Vàm Cỏ",
        kind="water",
        lat=10.5050,
        lon=106.6050,
        properties=WATER,
        river="Vàm Cỏ",
        area_name="Xã Cần Đước",
        distance_to_sea_km=32,
        datum="Hòn Dấu",
        tide_amplitude_m=1.1,
        tide_phase_h=1.4,
    ),
    StationSpec(
        code="SR-CANGIUOC",
        name="Trạm Cần Giuộc – sông Cần Giuộc",
        kind="water",
        lat=10.6050,
        lon=106.6750,
        properties=WATER,
        river="Cần Giuộc (nhánh sông Soài Rạp)",
        area_name="Xã Cần Giuộc",
        distance_to_sea_km=22,
        datum="Hòn Dấu",
        tide_amplitude_m=1.2,
        tide_phase_h=1.0,
    ),
    StationSpec(
        code="AQ-TANAN",
        name="Trạm không khí Tân An",
        kind="air",
        lat=10.5370,
        lon=106.4100,
        properties=AIR,
        area_name="Phường Long An",
    ),
    StationSpec(
        code="AQ-DUCHOA",
        name="Trạm không khí Đức Hòa",
        kind="air",
        lat=10.8000,
        lon=106.4480,
        properties=AIR,
        area_name="Xã Đức Hòa",
    ),
    StationSpec(
        code="TF-QL1-TANAN",
        name="Đếm xe QL1 – Tân An",
        kind="traffic",
        lat=10.5500,
        lon=106.4230,
        properties=TRAFFIC,
        road="QL1",
        area_name="Phường Long An",
        traffic_scale=1.0,
    ),
    StationSpec(
        code="TF-QL1-BENLUC",
        name="Đếm xe QL1 – Bến Lức",
        kind="traffic",
        lat=10.6430,
        lon=106.4780,
        properties=TRAFFIC,
        road="QL1",
        area_name="Xã Bến Lức",
        traffic_scale=1.2,
    ),
    StationSpec(
        code="TF-QL62-TANAN",
        name="Đếm xe QL62 – Tân An",
        kind="traffic",
        lat=10.5640,
        lon=106.3950,
        properties=TRAFFIC,
        road="QL62",
        area_name="Phường Long An",
        traffic_scale=0.45,
    ),
)

BY_CODE = {s.code: s for s in STATIONS}

"""What the environment sector declares to the core: its case categories and the monitoring station place type.

Pollution, waste and drainage/flooding reports are the environment sector's (the ward's environment officer and
the urban works company handle them; flooding belongs with the water-level stations that warn of it). A station
is a place of type ``station`` whatever it measures (water, air or traffic: ``kind``), linked to its STA Thing;
the attributes mirror the Thing properties the demo stations carry (river, datum, alarm levels, ...).
"""

from __future__ import annotations

from cityops.specs import (
    AttributeSpec,
    AttributeType,
    CategorySpec,
    Datatype,
    PlaceTypeSpec,
    QuestionSpec,
    StatusSpec,
)

SECTOR = "environment"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "drainage",
        "Thoát nước, ngập úng",
        "Drainage and flooding",
        sla_hours=16,
        keywords=("ngập", "cống", "flood"),
        questions=(
            QuestionSpec("water_depth_cm", "Độ sâu ngập (cm)", Datatype.NUMBER, label_en="Flood depth (cm)"),
        ),
        sector=SECTOR,
        order=30,
    ),
    CategorySpec(
        "waste",
        "Rác thải, vệ sinh môi trường",
        "Waste and litter",
        sla_hours=24,
        keywords=("rác", "garbage"),
        questions=(
            QuestionSpec(
                "waste_types",
                "Loại rác",
                Datatype.MULTIVALUELIST,
                values=(("household", "Sinh hoạt"), ("construction", "Xây dựng"), ("hazardous", "Nguy hại")),
                label_en="Waste types",
                values_en=(
                    ("household", "Household"),
                    ("construction", "Construction"),
                    ("hazardous", "Hazardous"),
                ),
            ),
        ),
        sector=SECTOR,
        order=40,
    ),
    CategorySpec(
        "environment",
        "Ô nhiễm môi trường",
        "Pollution",
        sla_hours=40,
        keywords=("khói", "mùi", "smoke", "noise", "tiếng ồn"),
        questions=(
            QuestionSpec(
                "pollution",
                "Loại ô nhiễm",
                Datatype.SINGLEVALUELIST,
                required=True,
                values=(("air", "Không khí"), ("water", "Nước"), ("noise", "Tiếng ồn"), ("soil", "Đất")),
                label_en="Pollution type",
                values_en=(("air", "Air"), ("water", "Water"), ("noise", "Noise"), ("soil", "Soil")),
            ),
            QuestionSpec("since", "Bắt đầu từ ngày", Datatype.DATE, label_en="Since"),
        ),
        sector=SECTOR,
        order=50,
    ),
)

STATION_STATUSES = (
    StatusSpec("online", "Đang hoạt động", "Online"),
    StatusSpec("offline", "Mất kết nối", "Offline"),
    StatusSpec("maintenance", "Đang bảo trì", "Under maintenance"),
)

STATION = PlaceTypeSpec(
    code="station",
    name_vi="Trạm quan trắc",
    name_en="Monitoring station",
    sector=SECTOR,
    icon="station",
    visibility="public",
    attributes=(
        AttributeSpec(
            "kind",
            "Loại trạm",
            "Station kind",
            AttributeType.ENUM,
            required=True,
            values=(
                ("water", "Nước (độ mặn, mực nước)", "Water (salinity, level)"),
                ("air", "Không khí", "Air quality"),
                ("traffic", "Đếm xe", "Traffic counter"),
            ),
        ),
        AttributeSpec("river", "Sông, kênh", "River or canal", max_length=200),
        AttributeSpec(
            "river_km",
            "Khoảng cách tới cửa sông",
            "Distance to the river mouth",
            AttributeType.NUMBER,
            unit="km",
            minimum=0,
            maximum=500,
        ),
        AttributeSpec("road", "Tuyến đường", "Road", max_length=200),
        AttributeSpec("datum", "Hệ cao độ", "Height datum", max_length=100),
        AttributeSpec(
            "alarm_levels",
            "Mực nước báo động",
            "Water-level alarm levels",
            AttributeType.NUMBER_MAP,
            unit="m",
            values=(
                ("I", "Báo động I", "Alarm level I"),
                ("II", "Báo động II", "Alarm level II"),
                ("III", "Báo động III", "Alarm level III"),
            ),
            minimum=-10,
            maximum=10,
        ),
        AttributeSpec("operator", "Đơn vị vận hành", "Operator", max_length=200),
        AttributeSpec(
            "operator_phone",
            "Điện thoại đơn vị vận hành",
            "Operator phone",
            AttributeType.PHONE,
            staff_only=True,
        ),
    ),
    statuses=STATION_STATUSES,
    default_status="online",
    description="Trạm đo độ mặn, mực nước, chất lượng không khí hoặc lưu lượng xe, gắn với Thing của SensorThings.",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (STATION,)

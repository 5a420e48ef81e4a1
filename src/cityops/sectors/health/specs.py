"""What the health sector declares to the core: its case category and three place types.

Hospitals, clinics and ward health stations (trạm y tế) are the three places a resident looks for; they share
what a resident needs (opening hours, phone, services, an emergency department) and differ in what the health
department tracks (a hospital's class and beds). Food-safety reports belong here too, as the department handles
them.
"""

from __future__ import annotations

from cityops.specs import (
    AttributeSpec,
    AttributeType,
    CategorySpec,
    IndicatorSource,
    IndicatorSpec,
    Period,
    PlaceTypeSpec,
)

SECTOR = "health"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "health", "Y tế, an toàn thực phẩm", "Health and food safety", sla_hours=24, sector=SECTOR, order=80
    ),
)

_OWNERSHIP = AttributeSpec(
    "ownership",
    "Loại hình",
    "Ownership",
    AttributeType.ENUM,
    values=(("public", "Công lập", "Public"), ("private", "Tư nhân", "Private")),
)
_BEDS = AttributeSpec("beds", "Số giường bệnh", "Beds", AttributeType.INTEGER, minimum=0, maximum=5000)
_COMMON: tuple[AttributeSpec, ...] = (
    AttributeSpec("services", "Dịch vụ khám chữa bệnh", "Services", AttributeType.TEXT, max_length=2000),
    AttributeSpec("opening_hours", "Giờ làm việc", "Opening hours", max_length=200),
    AttributeSpec("emergency", "Cấp cứu 24/7", "24/7 emergency", AttributeType.BOOLEAN),
    AttributeSpec("address", "Địa chỉ", "Address", max_length=300),
    AttributeSpec("phone", "Điện thoại", "Phone", AttributeType.PHONE),
)

HOSPITAL = PlaceTypeSpec(
    code="hospital",
    name_vi="Bệnh viện",
    name_en="Hospital",
    sector=SECTOR,
    icon="hospital",
    attributes=(
        AttributeSpec(
            "hospital_class",
            "Hạng bệnh viện",
            "Hospital class",
            AttributeType.ENUM,
            values=(
                ("special", "Hạng đặc biệt", "Special class"),
                ("I", "Hạng I", "Class I"),
                ("II", "Hạng II", "Class II"),
                ("III", "Hạng III", "Class III"),
                ("unclassified", "Chưa xếp hạng", "Unclassified"),
            ),
        ),
        _OWNERSHIP,
        _BEDS,
        *_COMMON,
    ),
    description="Bệnh viện đa khoa, chuyên khoa và trung tâm y tế có giường bệnh.",
)

CLINIC = PlaceTypeSpec(
    code="clinic",
    name_vi="Phòng khám",
    name_en="Clinic",
    sector=SECTOR,
    icon="clinic",
    attributes=(_OWNERSHIP, _BEDS, *_COMMON),
    description="Phòng khám đa khoa, chuyên khoa (công lập hoặc tư nhân).",
)

HEALTH_STATION = PlaceTypeSpec(
    code="health_station",
    name_vi="Trạm y tế",
    name_en="Health station",
    sector=SECTOR,
    icon="health_station",
    attributes=(_BEDS, *_COMMON),
    description="Trạm y tế phường, xã: khám ban đầu, tiêm chủng, chăm sóc sức khỏe ban đầu.",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (HOSPITAL, CLINIC, HEALTH_STATION)

INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec(
        code="health.beds_per_10k",
        name_vi="Số giường bệnh trên 10.000 dân",
        name_en="Hospital beds per 10,000 residents",
        unit="{beds}/10.10*3{residents}",
        direction="higher",
        period=Period.YEAR,
        source=IndicatorSource.PLACES,
        sector=SECTOR,
        method="places.attribute_sum",
        params={"types": [t.code for t in PLACE_TYPES], "attribute": "beds", "per": 10000},
        aggregation="per_capita",
        description_vi="Tổng số giường bệnh của bệnh viện, phòng khám, trạm y tế trên 10.000 dân của địa bàn "
        "(dân số do quản trị viên nhập theo năm, có nguồn).",
        description_en="Beds of hospitals, clinics and health stations per 10,000 residents of the area "
        "(population entered per year by an admin, with its source).",
    ),
)

"""What the agriculture sector declares to the core: the sluice gate place type.

Sluice gates (cống) on the Vàm Cỏ Tây and the canals off it (Bảo Định, Rạch Chanh, ...) keep salt water out of
the rice fields in the dry season and let fresh water in on the ebb; whether a gate is open is what farmers and
the irrigation company ask first, so it is the place's status. Heights are metres in the national Hòn Dấu
datum, like the water-level stations, so a sill can be compared with the river level. Agriculture adds no case
category of its own yet: a broken gate is reported under drainage and flooding.
"""

from __future__ import annotations

from cityops.specs import AttributeSpec, AttributeType, PlaceTypeSpec, StatusSpec

SECTOR = "agriculture"

SLUICE_GATE = PlaceTypeSpec(
    code="sluice_gate",
    name_vi="Cống thủy lợi",
    name_en="Sluice gate",
    sector=SECTOR,
    icon="sluice_gate",
    visibility="public",
    attributes=(
        AttributeSpec("waterway", "Sông, kênh", "River or canal", required=True, max_length=200),
        AttributeSpec(
            "gate_type",
            "Loại cửa",
            "Gate type",
            AttributeType.ENUM,
            values=(
                ("lift", "Cửa van phẳng", "Vertical lift gate"),
                ("flap", "Cửa tự động (clape)", "Flap gate"),
                ("mitre", "Cửa van chữ V", "Mitre gate"),
            ),
        ),
        AttributeSpec("openings", "Số cửa", "Openings", AttributeType.INTEGER, minimum=1, maximum=50),
        AttributeSpec(
            "width_m",
            "Tổng bề rộng thông nước",
            "Clear width",
            AttributeType.NUMBER,
            unit="m",
            minimum=0,
            maximum=500,
        ),
        AttributeSpec(
            "sill_elevation_m",
            "Cao trình ngưỡng (Hòn Dấu)",
            "Sill elevation (Hòn Dấu datum)",
            AttributeType.NUMBER,
            unit="m",
            minimum=-20,
            maximum=10,
        ),
        AttributeSpec(
            "built_year", "Năm xây dựng", "Year built", AttributeType.INTEGER, minimum=1900, maximum=2100
        ),
        AttributeSpec(
            "outer_station",
            "Trạm đo phía sông (ngoài cống)",
            "Station on the river side (outer)",
            max_length=64,
        ),
        AttributeSpec(
            "inner_station",
            "Trạm đo phía đồng (trong cống)",
            "Station on the field side (inner)",
            max_length=64,
        ),
        AttributeSpec(
            "protects",
            "Cây trồng, vật nuôi được bảo vệ (mã, cách nhau dấu phẩy)",
            "Crops protected (codes, comma-separated)",
            max_length=200,
        ),
        AttributeSpec("operator", "Đơn vị quản lý vận hành", "Operator", max_length=200),
        AttributeSpec(
            "operator_phone",
            "Điện thoại người vận hành",
            "Operator phone",
            AttributeType.PHONE,
            staff_only=True,
        ),
    ),
    statuses=(
        StatusSpec("open", "Mở", "Open"),
        StatusSpec("closed", "Đóng", "Closed"),
        StatusSpec("partly_open", "Mở một phần", "Partly open"),
        StatusSpec("maintenance", "Đang bảo trì", "Under maintenance"),
    ),
    default_status="closed",
    description="Cống ngăn mặn, giữ ngọt trên sông Vàm Cỏ Tây và các kênh rạch; trạng thái đóng/mở do đơn vị vận hành cập nhật.",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (SLUICE_GATE,)

"""What the tourism sector declares to the core: its case category and the tourist site place type.

Relic sites carry their heritage rank (national or provincial, the rank the Ministry or the province gave them),
which is what visitors and the department ask about; the ticket price is in đồng (0 for free entry).
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

SECTOR = "tourism"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "tourism", "Du lịch, dịch vụ", "Tourism and services", sla_hours=40, sector=SECTOR, order=100
    ),
)

TOURIST_SITE = PlaceTypeSpec(
    code="tourist_site",
    name_vi="Điểm du lịch",
    name_en="Tourist site",
    sector=SECTOR,
    icon="tourist_site",
    attributes=(
        AttributeSpec(
            "kind",
            "Loại điểm",
            "Kind",
            AttributeType.ENUM,
            required=True,
            values=(
                ("relic", "Di tích lịch sử, văn hóa", "Historic or cultural relic"),
                ("museum", "Bảo tàng", "Museum"),
                ("religious", "Đình, chùa, nhà thờ", "Temple, pagoda or church"),
                ("nature", "Sinh thái, cảnh quan", "Nature and landscape"),
                ("park", "Công viên, quảng trường", "Park or square"),
            ),
        ),
        AttributeSpec(
            "heritage_rank",
            "Xếp hạng di tích",
            "Heritage rank",
            AttributeType.ENUM,
            values=(
                ("special_national", "Quốc gia đặc biệt", "Special national"),
                ("national", "Cấp quốc gia", "National"),
                ("provincial", "Cấp tỉnh", "Provincial"),
            ),
        ),
        AttributeSpec("opening_hours", "Giờ mở cửa", "Opening hours", max_length=200),
        AttributeSpec(
            "ticket_vnd",
            "Giá vé",
            "Ticket price",
            AttributeType.INTEGER,
            unit="{VND}",
            minimum=0,
            maximum=10_000_000,
        ),
        AttributeSpec("address", "Địa chỉ", "Address", max_length=300),
        AttributeSpec("phone", "Điện thoại", "Phone", AttributeType.PHONE),
        AttributeSpec("website", "Trang web", "Website", AttributeType.URL),
    ),
    description="Di tích, bảo tàng, đình chùa, điểm sinh thái mở cửa đón khách.",
)

ACCOMMODATION = PlaceTypeSpec(
    code="accommodation",
    name_vi="Cơ sở lưu trú",
    name_en="Accommodation",
    sector=SECTOR,
    icon="accommodation",
    attributes=(
        AttributeSpec(
            "kind",
            "Loại cơ sở",
            "Kind",
            AttributeType.ENUM,
            required=True,
            values=(
                ("hotel", "Khách sạn", "Hotel"),
                ("homestay", "Homestay", "Homestay"),
                ("guesthouse", "Nhà nghỉ", "Guesthouse"),
            ),
        ),
        AttributeSpec("stars", "Hạng sao", "Stars", AttributeType.INTEGER, minimum=1, maximum=5),
        AttributeSpec("rooms", "Số phòng", "Rooms", AttributeType.INTEGER, minimum=0, maximum=5000),
        AttributeSpec(
            "capacity",
            "Sức chứa (khách)",
            "Capacity (guests)",
            AttributeType.INTEGER,
            minimum=0,
            maximum=20000,
        ),
        AttributeSpec("address", "Địa chỉ", "Address", max_length=300),
        AttributeSpec("phone", "Điện thoại", "Phone", AttributeType.PHONE),
        AttributeSpec("website", "Trang web", "Website", AttributeType.URL),
    ),
    description="Khách sạn, homestay, nhà nghỉ đón khách du lịch (số phòng, sức chứa).",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (TOURIST_SITE, ACCOMMODATION)

INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec(
        code="tourism.visitor_capacity",
        name_vi="Sức chứa lưu trú du lịch (số khách)",
        name_en="Visitor accommodation capacity (guests)",
        unit="{guests}",
        direction="higher",
        period=Period.YEAR,
        source=IndicatorSource.PLACES,
        sector=SECTOR,
        method="places.attribute_sum",
        params={"types": ["accommodation"], "attribute": "capacity"},
        aggregation="sum",
        decimals=0,
        description_vi="Tổng sức chứa (số khách một đêm) của khách sạn, homestay, nhà nghỉ trên địa bàn.",
        description_en="Guests a night the area's hotels, homestays and guesthouses can take.",
    ),
)

"""What the public-services sector declares to the core: utility categories, markets, one-stop shops, events.

Street lighting, tap water and street trees are public utility services (dịch vụ công ích) run by the urban
works and water supply companies under the ward, so their reports come here. Markets (chợ, ranked I–III by the
2024 decree on markets) and the one-stop shops (bộ phận một cửa) where residents file administrative dossiers
are the places residents look for. Public events (festivals, vaccination days, school enrolment periods) are
places too, so they reach the map, open data and NGSI-LD as every place does.
"""

from __future__ import annotations

from cityops.specs import (
    AttributeSpec,
    AttributeType,
    CategorySpec,
    Datatype,
    PlaceTypeSpec,
    QuestionSpec,
)

SECTOR = "public_services"

CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "lighting",
        "Chiếu sáng công cộng",
        "Street lighting",
        sla_hours=24,
        keywords=("đèn đường", "street light"),
        questions=(QuestionSpec("pole_number", "Số trụ đèn", Datatype.STRING, label_en="Pole number"),),
        sector=SECTOR,
        order=20,
    ),
    CategorySpec(
        "water",
        "Cấp nước sinh hoạt",
        "Water supply",
        sla_hours=16,
        questions=(
            QuestionSpec("customer_code", "Mã khách hàng", Datatype.STRING, label_en="Customer code"),
        ),
        sector=SECTOR,
        order=110,
    ),
    CategorySpec(
        "trees",
        "Cây xanh",
        "Trees",
        sla_hours=24,
        questions=(
            QuestionSpec(
                "fallen",
                "Cây đổ",
                Datatype.SINGLEVALUELIST,
                values=(("yes", "Có"), ("no", "Không")),
                label_en="Fallen tree",
                values_en=(("yes", "Yes"), ("no", "No")),
            ),
        ),
        sector=SECTOR,
        order=120,
    ),
)

_OPENING_HOURS = AttributeSpec("opening_hours", "Giờ mở cửa", "Opening hours", max_length=200)
_ADDRESS = AttributeSpec("address", "Địa chỉ", "Address", max_length=300)

MARKET = PlaceTypeSpec(
    code="market",
    name_vi="Chợ",
    name_en="Market",
    sector=SECTOR,
    icon="market",
    attributes=(
        AttributeSpec(
            "kind",
            "Loại chợ",
            "Market kind",
            AttributeType.ENUM,
            values=(
                ("retail", "Chợ dân sinh", "Neighbourhood market"),
                ("wholesale", "Chợ đầu mối", "Wholesale market"),
                ("night", "Chợ đêm", "Night market"),
            ),
        ),
        AttributeSpec(
            "market_class",
            "Hạng chợ",
            "Market class",
            AttributeType.ENUM,
            values=(("1", "Hạng 1", "Class 1"), ("2", "Hạng 2", "Class 2"), ("3", "Hạng 3", "Class 3")),
        ),
        AttributeSpec(
            "stalls", "Số điểm kinh doanh", "Stalls", AttributeType.INTEGER, minimum=0, maximum=10000
        ),
        _OPENING_HOURS,
        _ADDRESS,
        AttributeSpec("manager", "Ban quản lý", "Managed by", max_length=200),
        AttributeSpec(
            "manager_phone", "Điện thoại ban quản lý", "Manager's phone", AttributeType.PHONE, staff_only=True
        ),
    ),
    description="Chợ truyền thống, chợ đầu mối, chợ đêm (hạng theo Nghị định 60/2024/NĐ-CP).",
)

PUBLIC_SERVICE_OFFICE = PlaceTypeSpec(
    code="public_service_office",
    name_vi="Bộ phận một cửa",
    name_en="One-stop public service office",
    sector=SECTOR,
    icon="public_service_office",
    attributes=(
        AttributeSpec(
            "level",
            "Cấp",
            "Level",
            AttributeType.ENUM,
            values=(("province", "Cấp tỉnh", "Province"), ("commune", "Cấp xã, phường", "Commune or ward")),
        ),
        _OPENING_HOURS,
        _ADDRESS,
        AttributeSpec("phone", "Điện thoại", "Phone", AttributeType.PHONE),
        AttributeSpec("portal_url", "Cổng dịch vụ công", "Online services portal", AttributeType.URL),
    ),
    description="Nơi tiếp nhận và trả kết quả thủ tục hành chính (bộ phận một cửa, trung tâm phục vụ hành chính công).",
)

PUBLIC_EVENT = PlaceTypeSpec(
    code="public_event",
    name_vi="Sự kiện",
    name_en="Event",
    sector=SECTOR,
    icon="event",
    attributes=(
        AttributeSpec(
            "category",
            "Loại sự kiện",
            "Category",
            AttributeType.ENUM,
            required=True,
            values=(
                ("festival", "Lễ hội", "Festival"),
                ("vaccination", "Ngày tiêm chủng", "Vaccination day"),
                ("enrolment", "Tuyển sinh", "School enrolment"),
                ("other", "Khác", "Other"),
            ),
        ),
        AttributeSpec("start_date", "Ngày bắt đầu", "Starts on", AttributeType.DATE, required=True),
        AttributeSpec("end_date", "Ngày kết thúc", "Ends on", AttributeType.DATE),
        AttributeSpec("hours", "Thời gian", "Hours", max_length=100),
        AttributeSpec("venue", "Địa điểm", "Venue", max_length=300),
        AttributeSpec("organizer", "Đơn vị tổ chức", "Organised by", max_length=200),
        AttributeSpec("description", "Nội dung", "Description", AttributeType.TEXT, max_length=2000),
        AttributeSpec("url", "Thông tin thêm", "More information", AttributeType.URL),
    ),
    description="Lễ hội, ngày tiêm chủng, đợt tuyển sinh: thời gian, địa điểm, loại; hết hạn (valid_to) "
    "sau ngày kết thúc, nên tự rời khỏi danh sách hiện hành.",
)

# Places with a static demo in data/demo_<type>.geojson; events have a demo dated from today (demo.py).
PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (MARKET, PUBLIC_SERVICE_OFFICE)
EVENT_TYPES: tuple[PlaceTypeSpec, ...] = (PUBLIC_EVENT,)

"""What the traffic sector declares: the observed properties of its traffic counters.

Flows are counts per vehicle class in UCUM ``{vehicles}/h`` (the Smart Data Models ``TrafficFlowObserved``
``intensity`` attribute, one datastream per class: the counters on QL1 and QL62 tell motorbikes, cars, and
buses with trucks apart, which matters on Vietnamese roads where motorbikes are most of the flow), and the
mean speed (``averageVehicleSpeed``) in km/h. The ranges are physically plausible values for the range
check, not limits.

The traffic counters are places of the environment sector's "station" type with kind ``traffic``: a station is
a station whatever it counts, so this sector declares no place type of its own.
"""

from __future__ import annotations

from cityops.specs import (
    AttributeSpec,
    AttributeType,
    CategorySpec,
    Datatype,
    PlaceTypeSpec,
    PropertySpec,
    QuestionSpec,
    StatusSpec,
)

SECTOR = "traffic"
SDM_TRANSPORT = "https://smartdatamodels.org/dataModel.Transportation/"
VEHICLES_PER_HOUR = ("{vehicles}/h", "vehicles per hour")


def _flow(code: str, name_vi: str, name_en: str, maximum: float, vehicle_class: str) -> PropertySpec:
    """A flow of one vehicle class (``TrafficFlowObserved.intensity`` with its ``vehicleType``)."""
    unit, unit_name = VEHICLES_PER_HOUR
    return PropertySpec(
        code,
        name_vi,
        name_en,
        SDM_TRANSPORT + "intensity",
        unit,
        unit_name,
        0,
        maximum,
        f"Vehicle class: {vehicle_class}.",
        SECTOR,
    )


PROPERTIES: tuple[PropertySpec, ...] = (
    _flow("traffic_motorbike", "Lưu lượng xe máy", "Motorbike flow", 20000, "motorbike"),
    _flow("traffic_car", "Lưu lượng ô tô con", "Car flow", 10000, "car"),
    _flow("traffic_heavy", "Lưu lượng xe buýt, xe tải", "Bus and truck flow", 5000, "bus and truck"),
    PropertySpec(
        "mean_speed",
        "Tốc độ trung bình",
        "Mean speed",
        SDM_TRANSPORT + "averageVehicleSpeed",
        "km/h",
        "kilometre per hour",
        0,
        200,
        sector=SECTOR,
    ),
)

#: What a traffic counter measures, in the order its datastreams are created.
COUNTER_PROPERTIES: tuple[str, ...] = tuple(p.code for p in PROPERTIES)

#: The level of service of the segment a counter watches, computed from its readings (congestion.py) and stored
#: as a datastream of the counter: 1 = A (free flow) … 6 = F (jammed), so alert rules and the IOC read it.
CONGESTION_LEVEL = PropertySpec(
    "congestion_level",
    "Mức phục vụ (ùn tắc)",
    "Level of service (congestion)",
    SDM_TRANSPORT + "congested",
    "1",
    "level of service, 1 = A … 6 = F",
    1,
    6,
    "Computed from the mean speed over the free-flow speed and the volume over the capacity.",
    SECTOR,
)


# Case categories (helper D2's part of this file): reports of damaged roads and of traffic and its signals go to
# the traffic sector (the roads department and the traffic police).
CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "roads",
        "Đường sá, hạ tầng giao thông",
        "Roads and pavements",
        sla_hours=40,
        keywords=("ổ gà", "pothole", "vỉa hè"),
        questions=(
            QuestionSpec(
                "road_damage",
                "Loại hư hỏng",
                Datatype.SINGLEVALUELIST,
                required=True,
                values=(("pothole", "Ổ gà"), ("crack", "Nứt"), ("subsidence", "Sụt lún")),
                label_en="Damage",
                values_en=(("pothole", "Pothole"), ("crack", "Crack"), ("subsidence", "Subsidence")),
            ),
            QuestionSpec("size_m", "Kích thước (m)", Datatype.NUMBER, label_en="Size (m)"),
            QuestionSpec(
                "severity",
                "Mức độ",
                Datatype.SINGLEVALUELIST,
                values=(("low", "Nhẹ"), ("medium", "Vừa"), ("high", "Nghiêm trọng")),
                label_en="Severity",
                values_en=(("low", "Low"), ("medium", "Medium"), ("high", "High")),
            ),
        ),
        sector=SECTOR,
        order=10,
    ),
    CategorySpec(
        "traffic",
        "Giao thông, đèn tín hiệu",
        "Traffic and signals",
        sla_hours=8,
        urgent=True,
        keywords=("kẹt xe", "đèn giao thông"),
        sector=SECTOR,
        order=70,
    ),
)


# Incidents (issue #18): a crash or breakdown reported by a patrol, a camera operator or a citizen is a case with
# the questions the traffic police ask first.
INCIDENT = CategorySpec(
    "traffic_incident",
    "Sự cố giao thông",
    "Traffic incident",
    sla_hours=4,
    urgent=True,
    keywords=("tai nạn", "va chạm", "xe hỏng", "crash", "accident"),
    questions=(
        QuestionSpec(
            "vehicles",
            "Số phương tiện liên quan",
            Datatype.NUMBER,
            required=True,
            label_en="Vehicles involved",
        ),
        QuestionSpec(
            "injuries",
            "Có người bị thương",
            Datatype.SINGLEVALUELIST,
            required=True,
            values=(("none", "Không"), ("minor", "Bị thương nhẹ"), ("serious", "Bị thương nặng")),
            label_en="Injuries",
            values_en=(("none", "None"), ("minor", "Minor injuries"), ("serious", "Serious injuries")),
        ),
        QuestionSpec("lanes_blocked", "Số làn bị chắn", Datatype.NUMBER, label_en="Lanes blocked"),
    ),
    sector=SECTOR,
    order=71,
)

ALL_CATEGORIES: tuple[CategorySpec, ...] = (*CATEGORIES, INCIDENT)


# ---------------------------------------------------------------------------------------------------------
# Place types: the road network, closures and works, cameras

ROAD_CLASSES = (
    ("national", "Quốc lộ", "National road"),
    ("expressway", "Đường cao tốc", "Expressway"),
    ("provincial", "Đường tỉnh", "Provincial road"),
    ("urban_arterial", "Đường phố chính đô thị", "Urban arterial"),
    ("urban_collector", "Đường phố gom", "Urban collector"),
)

#: The level of service of a segment (its status, kept by congestion.py) and "closed" while a closure is valid.
LOS_STATUSES = (
    StatusSpec("A", "A – thông thoáng", "A – free flow"),
    StatusSpec("B", "B – ổn định", "B – reasonably free"),
    StatusSpec("C", "C – ổn định, đông", "C – stable"),
    StatusSpec("D", "D – gần ùn", "D – approaching unstable"),
    StatusSpec("E", "E – ùn ứ", "E – unstable"),
    StatusSpec("F", "F – ùn tắc", "F – jammed"),
    StatusSpec("unknown", "Chưa có dữ liệu", "No data"),
)

ROAD_SEGMENT = PlaceTypeSpec(
    code="road_segment",
    name_vi="Đoạn đường",
    name_en="Road segment",
    sector=SECTOR,
    icon="road",
    attributes=(
        AttributeSpec("road", "Tuyến đường", "Road", required=True, max_length=100),
        AttributeSpec(
            "road_class", "Cấp đường", "Road class", AttributeType.ENUM, required=True, values=ROAD_CLASSES
        ),
        AttributeSpec(
            "lanes", "Số làn xe", "Lanes", AttributeType.INTEGER, required=True, minimum=1, maximum=12
        ),
        AttributeSpec(
            "free_flow_kmh",
            "Tốc độ dòng tự do",
            "Free-flow speed",
            AttributeType.NUMBER,
            required=True,
            unit="km/h",
            minimum=5,
            maximum=130,
        ),
        AttributeSpec(
            "capacity_pcu_h",
            "Năng lực thông hành",
            "Capacity",
            AttributeType.NUMBER,
            required=True,
            unit="{PCU}/h",
            minimum=100,
            maximum=20000,
        ),
        AttributeSpec("counter", "Trạm đếm xe", "Traffic counter", max_length=64),
    ),
    statuses=LOS_STATUSES,
    default_status="unknown",
    geometry=("LineString", "MultiLineString"),
    description="Đoạn đường với cấp, số làn, tốc độ dòng tự do và năng lực thông hành; trạng thái là mức phục vụ.",
)

ROAD_CLOSURE = PlaceTypeSpec(
    code="road_closure",
    name_vi="Cấm đường, thi công",
    name_en="Road closure or works",
    sector=SECTOR,
    icon="road_closure",
    attributes=(
        AttributeSpec(
            "kind",
            "Loại",
            "Kind",
            AttributeType.ENUM,
            required=True,
            values=(
                ("closure", "Cấm đường", "Closure"),
                ("works", "Thi công", "Road works"),
                ("event", "Sự kiện", "Event"),
            ),
        ),
        AttributeSpec("segment", "Mã đoạn đường bị cấm", "Closed segment (external id)", max_length=128),
        AttributeSpec("reason_vi", "Lý do", "Reason (Vietnamese)", AttributeType.TEXT, max_length=500),
        AttributeSpec(
            "reason_en", "Lý do (tiếng Anh)", "Reason (English)", AttributeType.TEXT, max_length=500
        ),
        AttributeSpec("detour", "Hướng dẫn tuyến tránh", "Detour", AttributeType.TEXT, max_length=500),
        AttributeSpec("permit", "Số giấy phép thi công", "Works permit", max_length=100, staff_only=True),
    ),
    geometry=("Point", "LineString", "MultiLineString", "Polygon"),
    description="Cấm đường, thi công theo kế hoạch với thời gian hiệu lực (valid_from – valid_to).",
)

CAMERA = PlaceTypeSpec(
    code="camera",
    name_vi="Camera giao thông",
    name_en="Traffic camera",
    sector=SECTOR,
    icon="camera",
    attributes=(
        AttributeSpec("owner_agency", "Đơn vị quản lý", "Owner agency", required=True, max_length=200),
        AttributeSpec("watches", "Khu vực quan sát", "What it watches", max_length=300),
        AttributeSpec("segment", "Đoạn đường được quan sát", "Covered segment (external id)", max_length=128),
        AttributeSpec(
            "privacy_note", "Vùng che riêng tư", "Privacy zone", AttributeType.TEXT, max_length=500
        ),
        AttributeSpec(
            "heartbeat_s",
            "Chu kỳ tín hiệu sống",
            "Heartbeat interval",
            AttributeType.INTEGER,
            unit="s",
            minimum=10,
            maximum=86400,
        ),
        AttributeSpec("stream_url", "Địa chỉ luồng video", "Stream URL", max_length=500, staff_only=True),
        AttributeSpec("credentials", "Thông tin đăng nhập", "Credentials", max_length=200, staff_only=True),
    ),
    statuses=(
        StatusSpec("online", "Đang hoạt động", "Online"),
        StatusSpec("stale", "Mất tín hiệu", "Stale (no heartbeat)"),
        StatusSpec("offline", "Ngừng hoạt động", "Offline"),
    ),
    default_status="offline",
    description="Camera giám sát giao thông; địa chỉ luồng và thông tin đăng nhập chỉ cán bộ được xem. "
    "cityops không xử lý video.",
)

PLACE_TYPES: tuple[PlaceTypeSpec, ...] = (ROAD_SEGMENT, ROAD_CLOSURE, CAMERA)

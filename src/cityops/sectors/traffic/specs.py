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

from cityops.specs import CategorySpec, Datatype, PropertySpec, QuestionSpec

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

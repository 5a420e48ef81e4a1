"""Default alert rule templates of the environment sector (installed by the alerts plugin's demo loader).

* Salinity for crops: watch at 1 g/L (sensitive crops), warning at 4 g/L (rice), with hysteresis
  (clear at 0.8 and 3.5 g/L) and 30 minutes above the level before it opens (one tidal spike is not an
  intrusion).
* VN_AQI bands: > 100 watch (Kém), > 150 warning (Xấu), > 200 critical (Rất xấu), clearing 5 below.
* Water-level alarms I/II/III per station: levels from the Thing's ``alarm_levels`` (watch/warning/critical).
* Silent stations: no salinity or PM2.5 data for 30 minutes (6 × the 5-minute interval).
"""

from __future__ import annotations

from cityops.alerts.models import RuleKind
from cityops.alerts.templates import RuleTemplate

SALINITY = RuleTemplate(
    code="env.salinity-crops",
    name_vi="Xâm nhập mặn ảnh hưởng cây trồng",
    name_en="Saline intrusion harming crops",
    kind=RuleKind.THRESHOLD,
    property_code="salinity",
    parameters={
        "direction": "above",
        "levels": [
            {"severity": "watch", "value": 1.0, "clear": 0.8, "label": "1 g/L"},
            {"severity": "warning", "value": 4.0, "clear": 3.5, "label": "4 g/L"},
        ],
        "min_duration_s": 1800,
    },
    message_vi=(
        "{severity_vi} xâm nhập mặn: độ mặn tại {station} là {value} g/L (‰) lúc {time}. "
        "Từ 1 g/L ảnh hưởng cây trồng nhạy cảm, từ 4 g/L ảnh hưởng lúa; hạn chế lấy nước tưới."
    ),
    message_en=(
        "{severity_en} saline intrusion: salinity at {station} is {value} g/L at {time}. "
        "From 1 g/L sensitive crops suffer, from 4 g/L rice does; limit irrigation intake."
    ),
    sector="environment",
)

AQI = RuleTemplate(
    code="env.aqi-bands",
    name_vi="Chất lượng không khí kém (VN_AQI)",
    name_en="Poor air quality (VN_AQI)",
    kind=RuleKind.THRESHOLD,
    property_code="aqi",
    parameters={
        "direction": "above",
        "levels": [
            {"severity": "watch", "value": 101, "clear": 95, "label": "Kém"},
            {"severity": "warning", "value": 151, "clear": 145, "label": "Xấu"},
            {"severity": "critical", "value": 201, "clear": 195, "label": "Rất xấu"},
        ],
        "min_duration_s": 0,
    },
    message_vi=(
        "{severity_vi} chất lượng không khí: VN_AQI tại {station} là {value} ({level}) lúc {time}. "
        "Trẻ em, người già và người có bệnh hô hấp nên hạn chế ra ngoài."
    ),
    message_en=(
        "{severity_en} air quality: VN_AQI at {station} is {value} ({level}) at {time}. "
        "Children, the elderly and people with respiratory illness should limit time outdoors."
    ),
    sector="environment",
)

WATER_LEVEL = RuleTemplate(
    code="env.water-level-alarm",
    name_vi="Mực nước vượt báo động",
    name_en="Water level above alarm level",
    kind=RuleKind.THRESHOLD,
    property_code="water_level",
    parameters={"direction": "above", "levels_from_thing": "alarm_levels", "min_duration_s": 600},
    message_vi="{severity_vi}: mực nước tại {station} là {value} m, vượt báo động {level} lúc {time}.",
    message_en="{severity_en}: water level at {station} is {value} m, above alarm level {level} at {time}.",
    sector="environment",
)

SILENT_SALINITY = RuleTemplate(
    code="env.salinity-station-silent",
    name_vi="Trạm đo mặn mất tín hiệu",
    name_en="Salinity station silent",
    kind=RuleKind.STALENESS,
    property_code="salinity",
    parameters={"expected_interval_s": 300, "intervals": 6, "severity": "watch"},
    sector="environment",
)

SILENT_AIR = RuleTemplate(
    code="env.air-station-silent",
    name_vi="Trạm không khí mất tín hiệu",
    name_en="Air quality station silent",
    kind=RuleKind.STALENESS,
    property_code="pm25",
    parameters={"expected_interval_s": 300, "intervals": 6, "severity": "watch"},
    sector="environment",
)

TEMPLATES: tuple[RuleTemplate, ...] = (SALINITY, AQI, WATER_LEVEL, SILENT_SALINITY, SILENT_AIR)

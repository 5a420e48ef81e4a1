"""What the traffic sector adds to the IOC wall: the segments coloured by level of service (closed ones dark),
closures and works, cameras (staff), and the live levels and speeds.

The map layers are the sector's own GeoJSON endpoints (``api.py``), drawn by the IOC's ``map_layer`` panel kind
with the legends below; the segments refresh every minute, as the counters report every five.
"""

from __future__ import annotations

from cityops.specs import DashboardPanelSpec, LegendEntry

SECTOR = "traffic"

LOS_LEGEND = (
    LegendEntry("A", "#1b5e20", "A – thông thoáng", "A – free flow"),
    LegendEntry("B", "#43a047", "B – ổn định", "B – reasonably free"),
    LegendEntry("C", "#c0ca33", "C – ổn định, đông", "C – stable"),
    LegendEntry("D", "#fb8c00", "D – gần ùn", "D – approaching unstable"),
    LegendEntry("E", "#e53935", "E – ùn ứ", "E – unstable"),
    LegendEntry("F", "#7f0000", "F – ùn tắc", "F – jammed"),
    LegendEntry("closed", "#212121", "Cấm đường, thi công", "Closed or works"),
)


def panels() -> list[DashboardPanelSpec]:
    return [
        DashboardPanelSpec(
            code="traffic.segments",
            title_vi="Mức phục vụ các tuyến đường",
            title_en="Level of service on the roads",
            sector=SECTOR,
            kind="map_layer",
            layer_url="/api/v1/traffic/segments.geojson",
            style_property="state",
            legend=LOS_LEGEND,
            refresh_seconds=60,
            order=40,
        ),
        DashboardPanelSpec(
            code="traffic.closures",
            title_vi="Cấm đường, thi công",
            title_en="Closures and road works",
            sector=SECTOR,
            kind="map_layer",
            layer_url="/api/v1/traffic/closures.geojson",
            style_property="kind",
            legend=(
                LegendEntry("closure", "#212121", "Cấm đường", "Closure"),
                LegendEntry("works", "#6d4c41", "Thi công", "Road works"),
                LegendEntry("event", "#5e35b1", "Sự kiện", "Event"),
            ),
            refresh_seconds=300,
            order=41,
        ),
        DashboardPanelSpec(
            code="traffic.cameras",
            title_vi="Camera giao thông",
            title_en="Traffic cameras",
            sector=SECTOR,
            kind="map_layer",
            layer_url="/api/v1/traffic/cameras.geojson",
            style_property="status",
            legend=(
                LegendEntry("online", "#2e7d32", "Đang hoạt động", "Online"),
                LegendEntry("stale", "#f9a825", "Mất tín hiệu", "Stale"),
                LegendEntry("offline", "#757575", "Ngừng hoạt động", "Offline"),
            ),
            audience="staff",
            default_on=False,
            refresh_seconds=60,
            order=42,
        ),
        DashboardPanelSpec(
            code="traffic.latest",
            title_vi="Ùn tắc và tốc độ hiện tại",
            title_en="Congestion and speed now",
            sector=SECTOR,
            kind="latest_values",
            property_codes=("congestion_level", "mean_speed"),
            thresholds=(("congestion_level", 5.0, 6.0),),
            order=43,
        ),
    ]

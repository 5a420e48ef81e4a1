"""What the traffic sector adds to the IOC wall: the segments coloured by level of service, closures, cameras
(staff), and the live levels and speeds.

The GeoJSON endpoints (``/api/v1/traffic/segments.geojson``, ``/closures.geojson``) serve the same data for
a generic map layer; until the IOC draws those, the ``place_layer`` panels colour the places by status (a
segment's status is its level of service).
"""

from __future__ import annotations

from cityops.specs import DashboardPanelSpec

SECTOR = "traffic"


def panels() -> list[DashboardPanelSpec]:
    return [
        DashboardPanelSpec(
            code="traffic.segments",
            title_vi="Mức phục vụ các tuyến đường",
            title_en="Level of service on the roads",
            sector=SECTOR,
            kind="place_layer",
            place_types=("road_segment", "road_closure"),
            order=40,
        ),
        DashboardPanelSpec(
            code="traffic.latest",
            title_vi="Ùn tắc và tốc độ hiện tại",
            title_en="Congestion and speed now",
            sector=SECTOR,
            kind="latest_values",
            property_codes=("congestion_level", "mean_speed"),
            thresholds=(("congestion_level", 5.0, 6.0),),
            order=41,
        ),
        DashboardPanelSpec(
            code="traffic.cameras",
            title_vi="Camera giao thông",
            title_en="Traffic cameras",
            sector=SECTOR,
            kind="place_layer",
            place_types=("camera",),
            order=42,
        ),
    ]

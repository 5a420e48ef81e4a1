"""What the environment adds to the IOC wall: air and salinity tiles, the stations layer, and the water
levels against their alarm levels I/II/III (a map layer).

The thresholds colour latest values (and the IOC's station levels): salinity from 1 g/L harms sensitive
crops and from 4 g/L rice; PM2.5 above 50 µg/m³ and PM10 above 150 µg/m³ (24-hour) leave VN_AQI's "Trung
bình" band (index > 100), and above 80 / 250 µg/m³ its "Kém" band (index > 150).
"""

from __future__ import annotations

from cityops.specs import DashboardPanelSpec, LegendEntry


def panels() -> list[DashboardPanelSpec]:
    return [
        DashboardPanelSpec(
            code="environment.latest",
            title_vi="Độ mặn và bụi mịn hiện tại",
            title_en="Salinity and fine dust now",
            sector="environment",
            kind="latest_values",
            property_codes=("salinity", "pm25", "pm10"),
            thresholds=(("salinity", 1.0, 4.0), ("pm25", 50.1, 80.1), ("pm10", 150.1, 250.1)),
            order=20,
        ),
        DashboardPanelSpec(
            code="environment.days",
            title_vi="Ngày không khí tốt và ngày nhiễm mặn",
            title_en="Good-air days and salinity days",
            sector="environment",
            kind="indicator_tiles",
            indicators=(
                "environment.good_air_days",
                "environment.salinity_days_1",
                "environment.salinity_days_4",
            ),
            order=30,
        ),
        DashboardPanelSpec(
            code="environment.stations",
            title_vi="Trạm quan trắc",
            title_en="Monitoring stations",
            sector="environment",
            kind="place_layer",
            place_types=("station",),
            order=40,
        ),
        DashboardPanelSpec(
            "environment.water_levels", "Mực nước và báo động lũ, triều", "Water levels and flood/tide alarms",
            "environment", "map_layer",
            layer_url="/api/v1/environment/water-levels.geojson", style_property="alarm",
            legend=(
                LegendEntry("none", "#2e7d32", "Dưới báo động I", "Below alarm level I"),
                LegendEntry("I", "#f9a825", "Báo động I", "Alarm level I"),
                LegendEntry("II", "#ef6c00", "Báo động II", "Alarm level II"),
                LegendEntry("III", "#c62828", "Báo động III", "Alarm level III"),
            ),
            refresh_seconds=60, order=45,
        ),
    ]  # fmt: skip

"""What agriculture adds to the IOC: the sluice gates by state, the salinity lines on the rivers, and the
pilot communes coloured by their current salinity bulletins."""

from __future__ import annotations

from cityops.specs import DashboardPanelSpec, LegendEntry


def panels() -> list[DashboardPanelSpec]:
    return [
        DashboardPanelSpec(
            "agriculture.gates", "Cống thủy lợi", "Sluice gates", "agriculture", "map_layer",
            layer_url="/api/v1/agriculture/gates.geojson", style_property="status",
            legend=(
                LegendEntry("open", "#2e7d32", "Mở", "Open"),
                LegendEntry("partly_open", "#f9a825", "Mở một phần", "Partly open"),
                LegendEntry("closed", "#c62828", "Đóng", "Closed"),
                LegendEntry("maintenance", "#757575", "Đang bảo trì", "Under maintenance"),
            ),
            refresh_seconds=60, order=50,
        ),
        DashboardPanelSpec(
            "agriculture.intrusion", "Ranh mặn trên sông (ước tính)", "Salinity lines on the rivers (approximate)",
            "agriculture", "map_layer",
            layer_url="/api/v1/agriculture/intrusion.geojson", style_property="level",
            legend=(
                LegendEntry("river", "#1565c0", "Sông", "River"),
                LegendEntry("1", "#f9a825", "Ranh mặn 1 g/L", "1 g/L line"),
                LegendEntry("4", "#c62828", "Ranh mặn 4 g/L", "4 g/L line"),
            ),
            refresh_seconds=300, order=51,
        ),
        DashboardPanelSpec(
            "agriculture.bulletins", "Bản tin mặn theo xã", "Salinity bulletins by commune", "agriculture",
            "map_layer", layer_url="/api/v1/agriculture/bulletins.geojson", style_property="level",
            legend=(
                LegendEntry("safe", "#2e7d32", "Lấy nước bình thường", "Take water as usual"),
                LegendEntry("caution", "#f9a825", "Hạn chế lấy nước", "Limit intake"),
                LegendEntry("harm", "#c62828", "Không lấy nước", "Do not take water"),
            ),
            refresh_seconds=300, order=52,
        ),
    ]  # fmt: skip

"""The public order sector plugin: case categories (public order is restricted), the k-anonymous hotspot map,
its indicators and the IOC panel (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings
    from cityops.specs import CategorySpec, DashboardPanelSpec, IndicatorCalculatorSpec, IndicatorSpec


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.public_order.specs import CATEGORIES

    return list(CATEGORIES)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.sectors.public_order.api import router

    app.include_router(router)


@hookimpl
def indicators() -> list[IndicatorSpec]:
    from cityops.sectors.public_order.indicators import indicators as declared

    return declared()


@hookimpl
def indicator_calculators() -> list[IndicatorCalculatorSpec]:
    from cityops.sectors.public_order.indicators import calculators

    return calculators()


@hookimpl
def dashboard_panels() -> list[DashboardPanelSpec]:
    from cityops.specs import DashboardPanelSpec, LegendEntry

    return [
        DashboardPanelSpec(
            code="public_order.hotspots",
            title_vi="Điểm nóng an ninh trật tự (tháng này)",
            title_en="Public-order hotspots (this month)",
            sector="public_order",
            kind="map_layer",
            layer_url="/api/v1/public-order/hotspots.geojson",
            style_property="band",
            legend=(
                LegendEntry("1-4", "#ffe0b2", "1–4 vụ (chỉ cán bộ)", "1–4 cases (staff only)"),
                LegendEntry("5-9", "#ffb74d", "5–9 vụ", "5–9 cases"),
                LegendEntry("10-19", "#f57c00", "10–19 vụ", "10–19 cases"),
                LegendEntry("20+", "#bf360c", "Từ 20 vụ", "20 cases or more"),
            ),
            default_on=False,
            refresh_seconds=300,
            order=61,
        ),
        DashboardPanelSpec(
            code="public_order.cases",
            title_vi="Vụ việc an ninh trật tự theo tháng",
            title_en="Public-order incidents by month",
            sector="public_order",
            kind="indicator_tiles",
            indicators=("public_order.cases",),
            order=60,
        ),
    ]


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    """Demo public-order reports around Tân An (restricted: police and operators only), for the hotspot map."""
    from cityops.sectors.public_order.demo import load

    load(session, settings, console)

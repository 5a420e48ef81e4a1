"""Default plugin registration for reports: the core case categories, routes, CLI and demo data."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from cityops.background import run_in_background
from cityops.plugins import hookimpl
from cityops.reports.categories import CategorySpec, Datatype, QuestionSpec

if TYPE_CHECKING:
    import typer
    from fastapi import FastAPI
    from rich.console import Console
    from sqlalchemy.orm import Session

    from cityops.settings import Settings

log = logging.getLogger("cityops.reports")

_SEVERITY = QuestionSpec(
    "severity",
    "Mức độ / Severity",
    Datatype.SINGLEVALUELIST,
    values=(("low", "Nhẹ / Low"), ("medium", "Vừa / Medium"), ("high", "Nghiêm trọng / High")),
)


def _q(code: str, label: str, datatype: Datatype, required: bool = False, **kw: Any) -> QuestionSpec:
    return QuestionSpec(code, label, datatype, required, **kw)


DEFAULT_CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec(
        "roads",
        "Đường sá, hạ tầng giao thông",
        "Roads and pavements",
        sla_hours=40,
        keywords=("ổ gà", "pothole", "vỉa hè"),
        questions=(
            _q(
                "road_damage",
                "Loại hư hỏng / Damage",
                Datatype.SINGLEVALUELIST,
                required=True,
                values=(("pothole", "Ổ gà / Pothole"), ("crack", "Nứt / Crack"), ("subsidence", "Sụt lún")),
            ),
            _q("size_m", "Kích thước (m) / Size (m)", Datatype.NUMBER),
            _SEVERITY,
        ),
        order=10,
    ),
    CategorySpec(
        "lighting",
        "Chiếu sáng công cộng",
        "Street lighting",
        sla_hours=24,
        keywords=("đèn đường", "street light"),
        questions=(_q("pole_number", "Số trụ đèn / Pole number", Datatype.STRING),),
        order=20,
    ),
    CategorySpec(
        "drainage",
        "Thoát nước, ngập úng",
        "Drainage and flooding",
        sla_hours=16,
        urgent=False,
        keywords=("ngập", "cống", "flood"),
        questions=(_q("water_depth_cm", "Độ sâu ngập (cm) / Flood depth (cm)", Datatype.NUMBER),),
        order=30,
    ),
    CategorySpec(
        "waste",
        "Rác thải, vệ sinh môi trường",
        "Waste and litter",
        sla_hours=24,
        keywords=("rác", "garbage"),
        questions=(
            _q(
                "waste_types",
                "Loại rác / Waste types",
                Datatype.MULTIVALUELIST,
                values=(("household", "Sinh hoạt"), ("construction", "Xây dựng"), ("hazardous", "Nguy hại")),
            ),
        ),
        order=40,
    ),
    CategorySpec(
        "environment",
        "Ô nhiễm môi trường",
        "Pollution",
        sla_hours=40,
        keywords=("khói", "mùi", "smoke", "noise", "tiếng ồn"),
        questions=(
            _q(
                "pollution",
                "Loại ô nhiễm / Pollution type",
                Datatype.SINGLEVALUELIST,
                required=True,
                values=(("air", "Không khí"), ("water", "Nước"), ("noise", "Tiếng ồn"), ("soil", "Đất")),
            ),
            _q("since", "Bắt đầu từ ngày / Since", Datatype.DATE),
        ),
        order=50,
    ),
    CategorySpec("public_order", "An ninh trật tự", "Public order", sla_hours=8, urgent=True, order=60),
    CategorySpec(
        "traffic",
        "Giao thông, đèn tín hiệu",
        "Traffic and signals",
        sla_hours=8,
        urgent=True,
        keywords=("kẹt xe", "đèn giao thông"),
        order=70,
    ),
    CategorySpec("health", "Y tế, an toàn thực phẩm", "Health and food safety", sla_hours=24, order=80),
    CategorySpec("education", "Giáo dục", "Education", sla_hours=40, order=90),
    CategorySpec("tourism", "Du lịch, dịch vụ", "Tourism and services", sla_hours=40, order=100),
    CategorySpec(
        "water",
        "Cấp nước sinh hoạt",
        "Water supply",
        sla_hours=16,
        questions=(_q("customer_code", "Mã khách hàng / Customer code", Datatype.STRING),),
        order=110,
    ),
    CategorySpec(
        "trees",
        "Cây xanh",
        "Trees",
        sla_hours=24,
        questions=(
            _q(
                "fallen",
                "Cây đổ / Fallen tree",
                Datatype.SINGLEVALUELIST,
                values=(("yes", "Có / Yes"), ("no", "Không / No")),
            ),
        ),
        order=120,
    ),
    CategorySpec(
        "construction",
        "Trật tự xây dựng, đô thị",
        "Construction and urban order",
        sla_hours=40,
        questions=(_q("details", "Mô tả công trình / Site details", Datatype.TEXT),),
        order=130,
    ),
    CategorySpec("other", "Khác", "Other", sla_hours=40, order=999),
)


@hookimpl
def case_categories() -> list[Any]:
    return list(DEFAULT_CATEGORIES)


@hookimpl
def register_routes(app: FastAPI, settings: Settings) -> None:
    from cityops.media.api import install_access_policy
    from cityops.reports import api, citizen_auth, open311
    from cityops.reports.media_access import case_media_access

    app.include_router(api.router)
    app.include_router(citizen_auth.router)
    open311.install(app)
    install_access_policy(app, case_media_access)


@hookimpl
def register_cli(cli: typer.Typer) -> None:
    from cityops.reports.cli import reports_cli

    cli.add_typer(reports_cli, name="reports")


SLA_SWEEP_SECONDS = 300  # the sweep is idempotent; every five minutes is precise enough for working hours


async def _sla_loop(app: FastAPI) -> None:
    from cityops.clock import utcnow
    from cityops.db import session_scope, write_turn
    from cityops.idempotency import prune as prune_idempotency
    from cityops.reports.sla import sweep_in_chunks

    settings = app.state.settings

    def run() -> None:
        sweep_in_chunks(app.state.sessions, utcnow(), settings)
        with session_scope(app.state.sessions) as session, write_turn(session):
            prune_idempotency(session, utcnow())
            session.commit()

    while True:
        try:
            await asyncio.to_thread(run)
        except Exception:
            log.exception("SLA sweep failed")
        await asyncio.sleep(SLA_SWEEP_SECONDS)


@hookimpl
def startup(app: FastAPI) -> None:
    """Sync the categories and run the SLA sweep in the background (not under tests, which call
    :func:`~cityops.reports.sla.sweep_sla` with an explicit ``now``)."""
    from cityops.settings import Environment

    if app.state.settings.env is Environment.TEST:
        return
    from sqlalchemy.exc import SQLAlchemyError

    from cityops.db import session_scope
    from cityops.reports.categories import sync_categories

    try:
        with session_scope(app.state.sessions) as session:
            sync_categories(session)
    except SQLAlchemyError:
        log.warning("case categories not synced (is the database migrated?)", exc_info=True)

    run_in_background(app, _sla_loop)


@hookimpl
def load_demo(session: Session, settings: Settings, console: Console) -> None:
    from cityops.reports.demo import load

    load(session, settings, console)

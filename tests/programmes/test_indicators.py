"""The scheme's indicators are computed from the programme rows and roll up to today's province."""

from __future__ import annotations

from datetime import date

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.identity.policy import Principal
from cityops.indicators import engine
from cityops.indicators.models import IndicatorValue
from cityops.indicators.registry import sync
from cityops.programmes.plugin import demo_document
from cityops.programmes.schemas import DisbursementIn, ProgrammeIn
from cityops.programmes.service import add_disbursement, get_programme, get_project, import_programme
from tests.fixtures_areas import LoadedAreas

PLANNED = 500_000_000_000


def _values(session: Session, code: str, area_id: int) -> dict[int, float | None]:
    rows = session.scalars(
        select(IndicatorValue).where(IndicatorValue.indicator_code == code, IndicatorValue.area_id == area_id)
    )
    return {r.period_start.year: r.value for r in rows}


def test_scheme_indicators_from_the_demo_programme(session: Session, loaded_areas: LoadedAreas) -> None:
    doc = orjson.loads(demo_document())
    import_programme(session, ProgrammeIn.model_validate(doc))
    sync(session)
    engine.recompute(
        session,
        date(2020, 1, 1),
        date(2026, 12, 31),
        [
            "scheme.disbursement_rate",
            "scheme.budget_disbursed",
            "scheme.projects_completed",
            "scheme.rollout_communes",
        ],
    )
    session.commit()

    by_year: dict[int, int] = {}
    for project in doc["projects"]:
        for d in project["disbursements"]:
            year = int(d["disbursed_on"][:4])
            by_year[year] = by_year.get(year, 0) + d["amount_vnd"]
    province = loaded_areas.province_id  # today's Tây Ninh: old Long An's programme rolls up to it
    rate = _values(session, "scheme.disbursement_rate", province)
    money = _values(session, "scheme.budget_disbursed", province)
    cumulative = 0
    for year in range(2020, 2027):
        cumulative += by_year.get(year, 0)
        assert abs((rate[year] or 0) - 100 * cumulative / PLANNED) < 0.01
        assert abs((money[year] or 0) - cumulative / 1e9) < 1e-9

    done = _values(session, "scheme.projects_completed", province)
    assert done[2020] == 1  # the detailed plan, finished 31/12/2020
    assert done[2024] == 3  # + the ICT architecture (2021) and the IOC (2024)

    communes = _values(session, "scheme.rollout_communes", province)
    assert communes[2020] == 3  # the Tân An pilot: today's wards Tân An, Long An, Khánh Hậu
    assert communes[2026] is not None
    assert communes[2026] > (communes[2025] or 0)  # Bến Lức, Đức Hòa, Cần Đước, Cần Giuộc join in 2026


def test_a_disbursement_moves_only_its_years_onwards(session: Session, loaded_areas: LoadedAreas) -> None:
    import_programme(session, ProgrammeIn.model_validate(orjson.loads(demo_document())))
    sync(session)
    engine.recompute(session, date(2020, 1, 1), date(2026, 12, 31), ["scheme.budget_disbursed"])
    session.commit()
    before = _values(session, "scheme.budget_disbursed", loaded_areas.province_id)

    programme = get_programme(session, "long-an-smart-city-2020")
    admin = Principal.anonymous()
    add_disbursement(
        session,
        get_project(session, programme, "tourism"),
        DisbursementIn(disbursed_on=date(2024, 3, 1), amount_vnd=7_000_000_000, document="test"),
        actor=admin,
        request=None,
    )
    engine.recompute(session, date(2020, 1, 1), date(2026, 12, 31), ["scheme.budget_disbursed"])
    session.commit()
    after = _values(session, "scheme.budget_disbursed", loaded_areas.province_id)
    assert after[2023] == before[2023]
    assert abs((after[2024] or 0) - (before[2024] or 0) - 7.0) < 1e-9
    assert abs((after[2026] or 0) - (before[2026] or 0) - 7.0) < 1e-9

"""Area fixtures (the loaded Tây Ninh / Long An units) shared by tests.

``loaded_areas`` loads the current province (1 + 96 communes) and the legacy Long An and Tây Ninh units
(2 provinces, 24 districts, 280 communes) with lineage and approximate geometry into the test database,
on whichever backend the test runs. The source data and the geometry are computed once per process; the
database part costs roughly 0.1–0.3 s per test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.areas.service import LoadStats, load_areas


@dataclass(frozen=True)
class LoadedAreas:
    """Handy ids of well-known units, plus what the load did."""

    stats: LoadStats
    province_id: int  # current Tỉnh Tây Ninh (code 80, valid from 2025-07-01)
    legacy_long_an_id: int  # Tỉnh Long An (code 80, valid to 2025-07-01)
    legacy_tay_ninh_id: int  # old Tỉnh Tây Ninh (code 72)
    long_an_ward_id: int  # current Phường Long An (code 27694)
    tan_an_ward_id: int  # current Phường Tân An
    khanh_hau_ward_id: int  # current Phường Khánh Hậu
    old_phuong_1_id: int  # legacy Phường 1, Thành phố Tân An (code 27694 too)


def _one(session: Session, **where: object) -> int:
    stmt = select(Area.id)
    for field, value in where.items():
        column = getattr(Area, field)
        stmt = stmt.where(column.is_(None) if value is None else column == value)
    ids = list(session.scalars(stmt))
    assert len(ids) == 1, (where, ids)
    return ids[0]


@pytest.fixture
def loaded_areas(session: Session) -> LoadedAreas:
    stats = load_areas(session)
    session.commit()
    return LoadedAreas(
        stats=stats,
        province_id=_one(session, level="province", code="80", valid_to=None),
        legacy_long_an_id=_one(session, level="province", name="Tỉnh Long An"),
        legacy_tay_ninh_id=_one(session, level="province", code="72"),
        long_an_ward_id=_one(session, level="commune", name="Phường Long An", valid_to=None),
        tan_an_ward_id=_one(session, level="commune", name="Phường Tân An", valid_to=None),
        khanh_hau_ward_id=_one(session, level="commune", name="Phường Khánh Hậu", valid_to=None),
        old_phuong_1_id=_one(
            session,
            level="commune",
            code="27694",
            source_key="vietnamadminunits:legacy:tinhlongan_thanhphotanan_phuong1",
        ),
    )

"""Writers of cases on PostgreSQL take the map cells in one order, so they queue instead of deadlocking."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from cityops.reports.categories import sync_categories
from cityops.reports.map_cells import LEVELS, CaseMapCell
from cityops.reports.models import Case, Category
from tests.conftest import Backend

AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
EAST = (10.54, 106.41)  # two places in different level-8 cells
WEST = (10.54, 105.20)


def _case(code: str, ref: str, where: tuple[float, float]) -> dict[str, Any]:
    return {
        "ref": ref,
        "category_code": code,
        "description": "Đèn đường hỏng",
        "description_key": "",
        "answers": {},
        "lat": where[0],
        "lon": where[1],
        "state": "submitted",
        "submitted_at": AT,
        "updated_at": AT,
        "hidden": False,
        "sla_hours": 40.0,
        "version": 1,
    }


def test_two_transactions_writing_cells_in_opposite_orders_both_commit(
    backend: Backend, sessions: sessionmaker[Session]
) -> None:
    """T1 writes a case in the east then one in the west; T2, started in between, the other way round.
    Without one lock order each would hold the other's next cell rows (deadlock: PostgreSQL aborts one);
    with it T2 waits for T1's commit and both transactions go through."""
    if backend.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: its transactions cannot interleave")
    with sessions() as s:
        sync_categories(s)
        s.commit()
        code = s.scalars(select(Category.code)).first()
    assert code is not None
    t1, t2 = sessions(), sessions()
    errors: list[BaseException] = []
    t2_wrote_first = threading.Event()

    def second() -> None:
        try:
            t2.execute(insert(Case), [_case(code, "T2-W", WEST)])
            t2_wrote_first.set()
            t2.execute(insert(Case), [_case(code, "T2-E", EAST)])
            t2.commit()
        except BaseException as exc:  # the test fails on it below
            errors.append(exc)
            t2.rollback()

    try:
        t1.execute(insert(Case), [_case(code, "T1-E", EAST)])
        worker = threading.Thread(target=second)
        worker.start()
        # T2's first write waits for T1's lock, so it cannot have finished yet
        assert not t2_wrote_first.wait(0.5)
        t1.execute(insert(Case), [_case(code, "T1-W", WEST)])
        t1.commit()
        worker.join(30)
        assert not worker.is_alive()
    finally:
        t1.close()
        t2.close()
    assert errors == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 4
        by_level = dict(
            s.execute(select(CaseMapCell.z, func.sum(CaseMapCell.n)).group_by(CaseMapCell.z)).all()
        )
    assert by_level == {z: 4 for z in LEVELS}

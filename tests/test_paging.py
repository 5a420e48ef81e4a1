"""Offset pagination shared by the native API's lists: a page of an ordered query and the total."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.paging import MAX_LIMIT, Page, page_params, total
from cityops.text import search_key


def test_page_of_an_ordered_query_and_its_total(session: Session) -> None:
    for n in range(5):
        name = f"Xã {n}"
        session.add(Area(code=f"9000{n}", level="commune", kind="Xã", name=name, name_key=search_key(name)))
    session.flush()
    stmt = select(Area.code).where(Area.code.like("9000%")).order_by(Area.code)
    assert total(session, stmt) == 5
    assert session.scalars(Page(limit=2, offset=0).of(stmt)).all() == ["90000", "90001"]
    assert session.scalars(Page(limit=2, offset=4).of(stmt)).all() == ["90004"]
    assert session.scalars(Page(limit=2, offset=5).of(stmt)).all() == []
    assert total(session, stmt.where(Area.code == "nothing")) == 0


def test_page_params_defaults() -> None:
    assert page_params(100)() == Page(limit=100, offset=0)
    assert page_params(50)(limit=7, offset=3) == Page(limit=7, offset=3)
    assert MAX_LIMIT == 500  # the bound the API documents; raising it is an API change

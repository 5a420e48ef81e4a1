"""What every audience's report routes share: finding a case (by reference, by tracking token), the list
filters, paging, the public base URL, and the commit that turns a lost optimistic lock into 409."""

from __future__ import annotations

from datetime import date, datetime, time

from fastapi import Request
from pydantic import ConfigDict
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from cityops.clock import LOCAL_TZ
from cityops.errors import Conflict, Invalid, NotFound
from cityops.paging import page_params
from cityops.reports import intake
from cityops.reports.models import Case
from cityops.urls import public_base

PREFIX = "/api/v1/reports"
STRICT = ConfigDict(strict=True, extra="forbid")
MAX_PAGE = 200
CASE_PAGE = page_params(50, MAX_PAGE)


def stale_conflict() -> Conflict:
    return Conflict(
        "The case was changed by someone else meanwhile; reload it and try again", code="stale_case"
    )


def commit_or_conflict(session: Session) -> None:
    """Commit; a concurrent change to the same case (optimistic lock) answers 409."""
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        raise stale_conflict() from None


def get_case(session: Session, ref: str) -> Case:
    case = session.scalar(select(Case).where(Case.ref == ref))
    if case is None:
        raise NotFound(f"No case {ref}")
    return case


def case_for_token(session: Session, token: str) -> Case:
    case = intake.case_by_token(session, token)
    if case is None:
        raise NotFound("No case for this tracking token")
    return case


def base_url(request: Request) -> str:
    return public_base(request)  # configured public_url, else the request's address (cityops.urls)


def public_query() -> Select[Case]:
    return select(Case).where(Case.hidden.is_(False))


def filtered(
    query: Select[Case],
    category: str | None,
    state: list[str] | None,
    area_id: int | None,
    bbox: str | None,
) -> Select[Case]:
    if category:
        query = query.where(Case.category_code == category)
    if state:
        query = query.where(Case.state.in_(state))
    if area_id is not None:
        query = query.where(Case.area_id == area_id)
    if bbox:
        try:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox.split(","))
        except ValueError:
            raise Invalid("bbox must be min_lon,min_lat,max_lon,max_lat") from None
        query = query.where(Case.lat.between(min_lat, max_lat), Case.lon.between(min_lon, max_lon))
    return query


def local_day_start(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=LOCAL_TZ)

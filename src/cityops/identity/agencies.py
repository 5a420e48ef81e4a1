"""Agencies and their jurisdiction (areas × categories), and who handles what where.

Jurisdiction over an area covers the units inside it: a department with the province as its area
handles its categories in every commune. ``category_code`` None means every category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.audit.service import record, snapshot
from cityops.errors import Conflict, Invalid
from cityops.identity.models import Agency, AgencyJurisdiction, AgencyKind
from cityops.text import nfc, search_key

if TYPE_CHECKING:
    from starlette.requests import Request

    from cityops.identity.policy import Principal


def _agency_snapshot(agency: Agency) -> dict[str, object]:
    return snapshot(agency)


def create_agency(
    session: Session,
    *,
    code: str,
    name: str,
    kind: AgencyKind = AgencyKind.OTHER,
    parent_id: int | None = None,
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
) -> Agency:
    """Create an agency (audited as ``agency.create``; the caller commits)."""
    clean_code = nfc(code)
    clean_name = nfc(name)
    if not clean_code or not clean_name:
        raise Invalid("An agency needs a code and a name")
    if session.scalar(select(Agency.id).where(Agency.code == clean_code)):
        raise Conflict("An agency with this code exists", details={"code": clean_code})
    if parent_id is not None and session.get(Agency, parent_id) is None:
        raise Invalid("Unknown parent agency", details={"parent_id": parent_id})
    agency = Agency(
        code=clean_code,
        name=clean_name,
        name_key=search_key(clean_name),
        kind=AgencyKind(kind),
        parent_id=parent_id,
    )
    session.add(agency)
    session.flush()
    record(
        session,
        actor,
        "agency.create",
        "agency",
        agency.id,
        after=_agency_snapshot(agency),
        request=request,
        label=audit_label,
    )
    return agency


_UNSET: object = object()


def update_agency(
    session: Session,
    agency: Agency,
    *,
    name: str | None = None,
    kind: AgencyKind | None = None,
    parent_id: int | object | None = _UNSET,
    actor: Principal | None = None,
    request: Request | None = None,
) -> Agency:
    """Change an agency (audited as ``agency.update`` with before/after; the caller commits)."""
    before = _agency_snapshot(agency)
    if name is not None:
        clean = nfc(name)
        if not clean:
            raise Invalid("An agency needs a name")
        agency.name, agency.name_key = clean, search_key(clean)
    if kind is not None:
        agency.kind = AgencyKind(kind)
    if parent_id is not _UNSET:
        if parent_id is not None:
            if not isinstance(parent_id, int) or session.get(Agency, parent_id) is None:
                raise Invalid("Unknown parent agency", details={"parent_id": parent_id})
            ancestor: int | None = parent_id
            while ancestor is not None:  # refuse cycles
                if ancestor == agency.id:
                    raise Invalid("An agency cannot be its own ancestor", details={"parent_id": parent_id})
                ancestor = session.scalar(select(Agency.parent_id).where(Agency.id == ancestor))
        agency.parent_id = parent_id if isinstance(parent_id, int) else None
    session.flush()
    after = _agency_snapshot(agency)
    if after != before:
        record(
            session, actor, "agency.update", "agency", agency.id, before=before, after=after, request=request
        )
    return agency


def add_jurisdiction(
    session: Session,
    agency: Agency,
    *,
    area_id: int,
    category_code: str | None = None,
    actor: Principal | None = None,
    request: Request | None = None,
    audit_label: str | None = None,
) -> AgencyJurisdiction:
    """Give ``agency`` the cases of ``category_code`` (None: all) in ``area_id`` (audited)."""
    if session.get(Area, area_id) is None:
        raise Invalid("Unknown area", details={"area_id": area_id})
    category = nfc(category_code) if category_code else None
    exists = session.scalar(
        select(AgencyJurisdiction.id).where(
            AgencyJurisdiction.agency_id == agency.id,
            AgencyJurisdiction.area_id == area_id,
            AgencyJurisdiction.category_code.is_(None)
            if category is None
            else AgencyJurisdiction.category_code == category,
        )
    )
    if exists:
        raise Conflict("The agency already has this jurisdiction", details={"jurisdiction_id": exists})
    row = AgencyJurisdiction(agency_id=agency.id, area_id=area_id, category_code=category)
    session.add(row)
    session.flush()
    record(
        session,
        actor,
        "agency.jurisdiction.add",
        "agency",
        agency.id,
        after=snapshot(row),
        request=request,
        label=audit_label,
    )
    return row


def remove_jurisdiction(
    session: Session,
    row: AgencyJurisdiction,
    *,
    actor: Principal | None = None,
    request: Request | None = None,
) -> None:
    before = snapshot(row)
    session.delete(row)
    session.flush()
    record(
        session, actor, "agency.jurisdiction.remove", "agency", row.agency_id, before=before, request=request
    )


def area_chain(session: Session, area_id: int) -> list[int]:
    """``area_id`` and its ancestors, innermost first."""
    chain: list[int] = []
    current: int | None = area_id
    while current is not None and current not in chain:
        chain.append(current)
        current = session.scalar(select(Area.parent_id).where(Area.id == current))
    return chain


def agencies_for(session: Session, area_id: int, category_code: str | None) -> list[Agency]:
    """Agencies competent for a case of ``category_code`` in ``area_id``, best match first.

    Order: the innermost area wins (a ward committee before a province-wide department); within one
    area an exact category beats an all-categories jurisdiction. Use ``[0]`` to route a new case.
    """
    chain = area_chain(session, area_id)
    if not chain:
        return []
    rows = session.execute(
        select(AgencyJurisdiction, Agency)
        .join(Agency, Agency.id == AgencyJurisdiction.agency_id)
        .where(AgencyJurisdiction.area_id.in_(chain))
    ).all()
    ranked: list[tuple[int, int, str, Agency]] = []
    for jur, agency in rows:
        if jur.category_code is not None and jur.category_code != category_code:
            continue
        ranked.append((chain.index(jur.area_id), 0 if jur.category_code else 1, agency.code, agency))
    ranked.sort(key=lambda item: item[:3])
    out: list[Agency] = []
    for *_, agency in ranked:
        if agency not in out:
            out.append(agency)
    return out


def agency_view(agency: Agency, *, with_jurisdictions: bool = True) -> dict[str, object]:
    out: dict[str, object] = {
        "id": agency.id,
        "code": agency.code,
        "name": agency.name,
        "kind": agency.kind.value,
        "parent_id": agency.parent_id,
    }
    if with_jurisdictions:
        out["jurisdictions"] = [
            {"id": j.id, "area_id": j.area_id, "category_code": j.category_code}
            for j in sorted(agency.jurisdictions, key=lambda j: j.id)
        ]
    return out

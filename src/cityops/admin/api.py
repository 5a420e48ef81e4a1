"""Admin API the officer workspace's admin pages use where no other capability has one.

* ``GET /api/v1/admin/categories`` — every category (declared by a sector or added here, active or not).
* ``POST /api/v1/admin/categories`` — add a category (sector ``admin``): names, group, SLA working hours,
  urgency, extra questions. ``PATCH /api/v1/admin/categories/{code}`` changes one added here (a sector's
  own categories are changed in the sector: 409 ``category_declared``).
* ``GET /api/v1/admin/rollout`` — current communes/wards (``?parent_id=``, ``?q=``) with their rollout state.
* ``PUT /api/v1/admin/rollout`` — make areas live or not (``include_children``: every current unit under
  them, for "the whole province"), with a stage and per-area settings.
* ``GET /api/v1/live-areas`` — public: the live areas with their settings (apps read it).

Writes need ``category.manage`` / ``area.rollout.manage`` (admins), are validated strictly (422 with a
code the page shows in Vietnamese or English) and audited.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.admin.models import AreaRollout
from cityops.areas.models import Area
from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.deps import SessionDep
from cityops.errors import Conflict, Invalid, NotFound
from cityops.identity.deps import CurrentPrincipal
from cityops.identity.policy import Action, authorize
from cityops.reports.categories import ADMIN_SECTOR
from cityops.reports.models import Category
from cityops.specs import Datatype
from cityops.text import nfc, search_key

router = APIRouter(prefix="/api/v1", tags=["admin"])
CODE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
STAGES = ("pilot", "wave1", "wave2", "province")


class QuestionIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    code: str = Field(min_length=2, max_length=63)
    label: str = Field(min_length=1, max_length=200)
    label_en: str = Field("", max_length=200)
    datatype: Annotated[Datatype, Field(strict=False)]
    required: bool = False
    values: list[list[str]] = Field(default_factory=list, max_length=50)  # [key, name]
    values_en: list[list[str]] = Field(default_factory=list, max_length=50)

    @field_validator("values", "values_en")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        if any(len(pair) != 2 or not pair[0] or not pair[1] for pair in v):
            raise ValueError("each value is [key, name]")
        return v

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        if not CODE.match(v):
            raise ValueError("a code is lower-case letters, digits and _")
        return v


class CategoryFields(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name_vi: str = Field(min_length=2, max_length=200)
    name_en: str = Field(min_length=2, max_length=200)
    group: str = Field("", max_length=100)
    description: str = Field("", max_length=2000)
    sla_hours: float = Field(40.0, ge=1, le=2000)
    urgent: bool = False
    questions: list[QuestionIn] = Field(default_factory=list, max_length=20)


class CategoryIn(CategoryFields):
    code: str = Field(min_length=2, max_length=63)


class CategoryPatch(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    name_vi: str | None = Field(None, min_length=2, max_length=200)
    name_en: str | None = Field(None, min_length=2, max_length=200)
    group: str | None = Field(None, max_length=100)
    sla_hours: float | None = Field(None, ge=1, le=2000)
    urgent: bool | None = None
    active: bool | None = None
    questions: list[QuestionIn] | None = Field(None, max_length=20)


def category_out(c: Category) -> dict[str, Any]:
    return {
        "code": c.code,
        "name_vi": c.name_vi,
        "name_en": c.name_en,
        "group": c.group,
        "sla_hours": c.sla_hours,
        "urgent": c.urgent,
        "questions": c.questions,
        "sector": c.sector,
        "active": c.active,
        "editable": c.sector == ADMIN_SECTOR,
    }


def _questions(questions: list[QuestionIn]) -> list[dict[str, Any]]:
    codes = [q.code for q in questions]
    if len(set(codes)) != len(codes):
        raise Invalid("Two questions have the same code", code="duplicate_question")
    out = []
    for q in questions:
        if q.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST) and not q.values:
            raise Invalid(
                "A list question needs values", code="question_values_required", details={"code": q.code}
            )
        out.append(
            {
                "code": q.code,
                "label": nfc(q.label),
                "label_en": nfc(q.label_en),
                "datatype": q.datatype.value,
                "required": q.required,
                "description": "",
                "values": [[k, nfc(n)] for k, n in q.values],
                "values_en": [[k, nfc(n)] for k, n in q.values_en],
                "max_length": 500,
            }
        )
    return out


@router.get("/admin/categories")
def list_categories(session: SessionDep, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    authorize(principal, Action.CATEGORY_MANAGE)
    rows = session.scalars(select(Category).order_by(Category.order, Category.code))
    return [category_out(c) for c in rows]


@router.post("/admin/categories", status_code=201)
def create_category(
    body: CategoryIn, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    """Add a category of the administration's own (sector ``admin``), active at once."""
    authorize(principal, Action.CATEGORY_MANAGE)
    if not CODE.match(body.code):
        raise Invalid(
            "A code is lower-case letters, digits and _", code="invalid_code", details={"field": "code"}
        )
    if session.get(Category, body.code) is not None:
        raise Conflict(f"Category {body.code} exists", code="category_exists", details={"field": "code"})
    name_vi, name_en = nfc(body.name_vi.strip()), nfc(body.name_en.strip())
    row = Category(
        code=body.code,
        name_vi=name_vi,
        name_en=name_en,
        name_key=search_key(f"{name_vi} {name_en}"),
        description=nfc(body.description),
        group=nfc(body.group),
        sla_hours=body.sla_hours,
        urgent=body.urgent,
        questions=_questions(body.questions),
        sector=ADMIN_SECTOR,
        order=500,
        active=True,
    )
    session.add(row)
    session.flush()
    record(session, principal, "category.create", "category", row.code, None, snapshot(row), request)
    session.commit()
    return category_out(row)


@router.patch("/admin/categories/{code}")
def update_category(
    code: str, body: CategoryPatch, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> dict[str, Any]:
    authorize(principal, Action.CATEGORY_MANAGE)
    row = session.get(Category, code)
    if row is None:
        raise NotFound(f"Category {code} does not exist")
    if row.sector != ADMIN_SECTOR:
        raise Conflict("This category is declared by a sector", code="category_declared")
    before = snapshot(row)
    changes = body.model_dump(exclude_unset=True)
    if "questions" in changes and body.questions is not None:
        row.questions = _questions(body.questions)
    for key in ("name_vi", "name_en", "group"):
        if changes.get(key) is not None:
            setattr(row, key, nfc(str(changes[key]).strip()))
    for key in ("sla_hours", "urgent", "active"):
        if changes.get(key) is not None:
            setattr(row, key, changes[key])
    row.name_key = search_key(f"{row.name_vi} {row.name_en}")
    session.flush()
    record(session, principal, "category.update", "category", code, before, snapshot(row), request)
    session.commit()
    return category_out(row)


# ------------------------------------------------------------------------------------------- rollout


class RolloutSettings(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    accept_reports: bool = True
    alerts: bool = True
    note: str = Field("", max_length=500)


class RolloutIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")
    area_ids: list[int] = Field(min_length=1, max_length=500)
    live: bool
    stage: Literal["pilot", "wave1", "wave2", "province"] = "pilot"
    include_children: bool = False
    settings: RolloutSettings = Field(default_factory=RolloutSettings)


def rollout_out(area: Area, row: AreaRollout | None) -> dict[str, Any]:
    return {
        "area_id": area.id,
        "code": area.code,
        "name": area.name,
        "level": area.level,
        "parent_id": area.parent_id,
        "live": bool(row and row.live),
        "stage": row.stage if row else None,
        "settings": row.settings if row else None,
        "changed_at": row.changed_at.isoformat() if row else None,
    }


def _current() -> Any:
    return Area.valid_to.is_(None)


def _with_children(session: Session, ids: list[int]) -> list[int]:
    found = set(ids)
    frontier = list(ids)
    while frontier:
        children = session.scalars(select(Area.id).where(Area.parent_id.in_(frontier), _current())).all()
        frontier = [c for c in children if c not in found]
        found.update(frontier)
    return sorted(found)


@router.get("/admin/rollout")
def list_rollout(
    session: SessionDep,
    principal: CurrentPrincipal,
    parent_id: int | None = None,
    q: Annotated[str | None, Query(max_length=128)] = None,
    live_only: bool = False,
) -> list[dict[str, Any]]:
    """Current units (communes and wards by default; the children of ``parent_id``) with their state."""
    authorize(principal, Action.AREA_ROLLOUT_MANAGE)
    stmt = select(Area, AreaRollout).outerjoin(AreaRollout, AreaRollout.area_id == Area.id).where(_current())
    stmt = (
        stmt.where(Area.parent_id == parent_id)
        if parent_id is not None
        else stmt.where(Area.level == "commune")
    )
    if q:
        for word in search_key(q).split():
            stmt = stmt.where(Area.name_key.contains(word))
    if live_only:
        stmt = stmt.where(AreaRollout.live.is_(True))
    rows = session.execute(stmt.order_by(Area.name_key, Area.id).limit(500)).all()
    return [rollout_out(a, r) for a, r in rows]


@router.put("/admin/rollout")
def set_rollout(
    body: RolloutIn, session: SessionDep, principal: CurrentPrincipal, request: Request
) -> list[dict[str, Any]]:
    """Make ``area_ids`` (and with ``include_children`` every current unit under them) live or not."""
    authorize(principal, Action.AREA_ROLLOUT_MANAGE)
    ids = sorted(set(body.area_ids))
    areas = {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(ids), _current()))}
    missing = [i for i in ids if i not in areas]
    if missing:
        raise Invalid(
            "No such current area", code="unknown_area", details={"field": "area_ids", "ids": missing}
        )
    if body.include_children:
        ids = _with_children(session, ids)
        areas = {a.id: a for a in session.scalars(select(Area).where(Area.id.in_(ids)))}
    existing = {
        r.area_id: r for r in session.scalars(select(AreaRollout).where(AreaRollout.area_id.in_(ids)))
    }
    now = utcnow()
    out = []
    for area_id in ids:
        row = existing.get(area_id)
        before = snapshot(row) if row is not None else None
        if row is None:
            row = AreaRollout(area_id=area_id)
            session.add(row)
        row.live, row.stage, row.settings = body.live, body.stage, body.settings.model_dump()
        row.changed_at, row.changed_by = now, principal.user_id
        session.flush()
        record(session, principal, "area_rollout.set", "area", area_id, before, snapshot(row), request)
        out.append(rollout_out(areas[area_id], row))
    session.commit()
    return out


@router.get("/live-areas")
def live_areas(session: SessionDep) -> list[dict[str, Any]]:
    """The areas in service, with their stage and settings (public: apps show where reporting is open)."""
    rows = session.execute(
        select(Area, AreaRollout)
        .join(AreaRollout, AreaRollout.area_id == Area.id)
        .where(AreaRollout.live.is_(True), _current())
        .order_by(Area.name_key, Area.id)
    ).all()
    return [rollout_out(a, r) for a, r in rows]

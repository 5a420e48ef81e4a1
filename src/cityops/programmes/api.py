"""``/api/v1/programmes``: the scheme as data — read by anyone, entered and updated by the province's admins."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy import select

from cityops.deps import SessionDep
from cityops.errors import Invalid
from cityops.identity.deps import requires
from cityops.identity.policy import Action, Principal
from cityops.programmes import service
from cityops.programmes.models import Disbursement, Programme, ProgrammePhase, ProgrammeProject
from cityops.programmes.schemas import DisbursementIn, ProgrammeIn, ProjectPatch

router = APIRouter(prefix="/api/v1/programmes", tags=["programmes"])
Manager = Annotated[Principal, Depends(requires(Action.PROGRAMME_MANAGE))]
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"description": "No such programme or project"}}


class ProgressOut(BaseModel):
    budget_planned_vnd: int
    projects_planned_vnd: int
    disbursed_vnd: int
    disbursement_rate_pct: float | None
    projects_by_status: dict[str, int]
    completion_pct: float | None
    progress_pct: float | None
    disbursed_by_year: dict[int, int]


class ProgrammeSummary(BaseModel):
    code: str
    name_vi: str
    name_en: str
    decision: str
    approved_on: date | None
    lead_agency: str
    area_id: int | None
    demo: bool
    progress: ProgressOut

    @classmethod
    def of(cls, programme: Programme, progress: service.Progress) -> ProgrammeSummary:
        return cls(
            code=programme.code,
            name_vi=programme.name_vi,
            name_en=programme.name_en,
            decision=programme.decision,
            approved_on=programme.approved_on,
            lead_agency=programme.lead_agency,
            area_id=programme.area_id,
            demo=programme.demo,
            progress=ProgressOut(**progress.__dict__),
        )


class PhaseOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    starts_on: date
    ends_on: date
    description_vi: str
    description_en: str
    area_ids: list[int]

    @classmethod
    def of(cls, phase: ProgrammePhase, area_ids: list[int]) -> PhaseOut:
        return cls(
            code=phase.code,
            name_vi=phase.name_vi,
            name_en=phase.name_en,
            starts_on=phase.starts_on,
            ends_on=phase.ends_on,
            description_vi=phase.description_vi,
            description_en=phase.description_en,
            area_ids=area_ids,
        )


class ProjectOut(BaseModel):
    code: str
    name_vi: str
    name_en: str
    phase: str | None
    sector: str
    lead: str
    budget_planned_vnd: int
    disbursed_vnd: int
    status: str
    progress_pct: float
    starts_on: date | None
    ends_on: date | None
    demo: bool

    @classmethod
    def of(cls, project: ProgrammeProject, phase_code: str | None, disbursed: int) -> ProjectOut:
        return cls(
            code=project.code,
            name_vi=project.name_vi,
            name_en=project.name_en,
            phase=phase_code,
            sector=project.sector,
            lead=project.lead,
            budget_planned_vnd=project.budget_planned_vnd,
            disbursed_vnd=disbursed,
            status=project.status,
            progress_pct=project.progress_pct,
            starts_on=project.starts_on,
            ends_on=project.ends_on,
            demo=project.demo,
        )


class ProgrammeOut(ProgrammeSummary):
    budget_planned_vnd: int
    source: str
    phases: list[PhaseOut]
    projects: list[ProjectOut]


class DisbursementOut(BaseModel):
    id: int
    disbursed_on: date
    amount_vnd: int
    document: str
    note: str
    demo: bool

    @classmethod
    def of(cls, row: Disbursement) -> DisbursementOut:
        return cls(
            id=row.id,
            disbursed_on=row.disbursed_on,
            amount_vnd=row.amount_vnd,
            document=row.document,
            note=row.note,
            demo=row.demo,
        )


class ImportOut(BaseModel):
    code: str
    created: bool
    phases: int
    projects_created: int
    projects_updated: int
    disbursements_added: int
    warnings: list[str]


@router.get("", response_model=list[ProgrammeSummary])
def list_programmes(session: SessionDep) -> list[ProgrammeSummary]:
    """Every programme with its progress (a province has a handful: no paging)."""

    programmes = list(session.scalars(select(Programme).order_by(Programme.code).limit(100)))
    progress = service.progress_of(session, programmes)
    return [ProgrammeSummary.of(p, progress[p.id]) for p in programmes]


def programme_detail(session: SessionDep, code: str) -> ProgrammeOut:

    programme = service.get_programme(session, code)
    phases = list(
        session.scalars(
            select(ProgrammePhase)
            .where(ProgrammePhase.programme_id == programme.id)
            .order_by(ProgrammePhase.starts_on)
        )
    )
    phase_codes = {p.id: p.code for p in phases}
    areas = service.phase_area_ids(session, programme)
    disbursed = service.disbursed_by_project(session, programme)
    projects = session.scalars(
        select(ProgrammeProject)
        .where(ProgrammeProject.programme_id == programme.id)
        .order_by(ProgrammeProject.code)
    )
    summary = ProgrammeSummary.of(programme, service.progress(session, programme))
    return ProgrammeOut(
        **summary.model_dump(),
        budget_planned_vnd=programme.budget_planned_vnd,
        source=programme.source,
        phases=[PhaseOut.of(p, areas.get(p.id, [])) for p in phases],
        projects=[
            ProjectOut.of(p, phase_codes.get(p.phase_id) if p.phase_id else None, disbursed.get(p.id, 0))
            for p in projects
        ],
    )


@router.get("/{code}", response_model=ProgrammeOut, responses=_ERRORS)
def get_programme(session: SessionDep, code: str) -> ProgrammeOut:
    """One programme: phases with their areas, component projects with money disbursed, and progress."""
    return programme_detail(session, code)


@router.put("/{code}", response_model=ImportOut)
def put_programme(
    session: SessionDep, code: str, body: ProgrammeIn, principal: Manager, request: Request
) -> ImportOut:
    """Create or update a whole programme from its document (the import format); idempotent."""
    if body.code != code:
        raise Invalid("The body's code differs from the path's", details={"path": code, "body": body.code})
    result = service.import_programme(session, body, actor=principal, request=request)
    session.commit()
    return ImportOut(code=code, **{k: v for k, v in result.__dict__.items() if k != "programme_id"})


@router.patch("/{code}/projects/{project_code}", response_model=ProjectOut, responses=_ERRORS)
def patch_project(
    session: SessionDep,
    code: str,
    project_code: str,
    body: ProjectPatch,
    principal: Manager,
    request: Request,
) -> ProjectOut:
    """Update a project's status, progress, budget, lead or dates."""
    programme = service.get_programme(session, code)
    project = service.patch_project(
        session, service.get_project(session, programme, project_code), body, actor=principal, request=request
    )
    session.commit()
    phase = session.get(ProgrammePhase, project.phase_id) if project.phase_id else None
    disbursed = service.disbursed_by_project(session, programme).get(project.id, 0)
    return ProjectOut.of(project, phase.code if phase else None, disbursed)


@router.get(
    "/{code}/projects/{project_code}/disbursements", response_model=list[DisbursementOut], responses=_ERRORS
)
def list_disbursements(session: SessionDep, code: str, project_code: str) -> list[DisbursementOut]:

    project = service.get_project(session, service.get_programme(session, code), project_code)
    rows = session.scalars(
        select(Disbursement)
        .where(Disbursement.project_id == project.id)
        .order_by(Disbursement.disbursed_on)
        .limit(1000)
    )
    return [DisbursementOut.of(r) for r in rows]


@router.post(
    "/{code}/projects/{project_code}/disbursements",
    response_model=DisbursementOut,
    status_code=201,
    responses={**_ERRORS, 409: {"description": "The same disbursement is already recorded"}},
)
def post_disbursement(
    session: SessionDep,
    code: str,
    project_code: str,
    body: DisbursementIn,
    principal: Manager,
    request: Request,
) -> DisbursementOut:
    """Record money paid out for a project (date, amount in VND, the document it is recorded in)."""
    project = service.get_project(session, service.get_programme(session, code), project_code)
    row = service.add_disbursement(session, project, body, actor=principal, request=request)
    session.commit()
    return DisbursementOut.of(row)

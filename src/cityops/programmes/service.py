"""Programme writes (import as upsert, project updates, disbursements) and the progress figures read from them.

Import is an upsert keyed by codes, so importing the same document twice changes nothing; a disbursement is the
same one when its project, date, amount and document match. Every change is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import Request
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.areas.service import find_by_code
from cityops.audit.service import record, snapshot
from cityops.clock import utcnow
from cityops.errors import Conflict, Invalid, NotFound
from cityops.events.outbox import emit
from cityops.identity.policy import Principal
from cityops.programmes.models import (
    Disbursement,
    Programme,
    ProgrammePhase,
    ProgrammePhaseArea,
    ProgrammeProject,
)
from cityops.programmes.schemas import AreaRef, DisbursementIn, ProgrammeIn, ProjectPatch


@dataclass
class ImportResult:
    programme_id: int
    created: bool
    phases: int = 0
    projects_created: int = 0
    projects_updated: int = 0
    disbursements_added: int = 0
    warnings: list[str] = field(default_factory=list)


def resolve_area(session: Session, ref: AreaRef) -> Area:
    """The unit with this code and level that was valid on ``ref.on``; a 422 naming it when there is none."""
    found = [a for a in find_by_code(session, ref.code, at=ref.on) if a.level == ref.level]
    if not found:
        raise Invalid(
            f"No {ref.level} with code {ref.code} on {ref.on.isoformat()}",
            details={"area": ref.model_dump(mode="json")},
        )
    return found[0]


CHANGED = "programmes.changed"


def _changed(session: Session, programme: Programme, since: date | None) -> None:
    """Tell consumers (the scheme's indicators) that the figures from ``since`` on may have moved."""
    day = since or utcnow().date()
    emit(
        session,
        CHANGED,
        {"programme_id": programme.id, "area_id": programme.area_id, "since": day.isoformat()},
    )


def _set(obj: Any, values: dict[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def import_programme(
    session: Session, doc: ProgrammeIn, *, actor: Principal | None = None, request: Request | None = None
) -> ImportResult:
    """Create or update a programme from its document (flushed, not committed)."""
    area_id = resolve_area(session, doc.area).id if doc.area else None
    phase_areas = {p.code: [resolve_area(session, ref).id for ref in p.areas] for p in doc.phases}
    programme = session.scalar(select(Programme).where(Programme.code == doc.code))
    created = programme is None
    values = doc.model_dump(include={"name_vi", "name_en", "decision", "approved_on", "lead_agency"})
    values |= {"budget_planned_vnd": doc.budget_planned_vnd, "source": doc.source, "demo": doc.demo}
    values["area_id"] = area_id
    before = None if programme is None else snapshot(programme)
    if programme is None:
        programme = Programme(code=doc.code, **values)
        session.add(programme)
        session.flush()
    elif _set(programme, values):
        programme.updated_at = utcnow()
    result = ImportResult(programme_id=programme.id, created=created)

    phases = {
        p.code: p
        for p in session.scalars(select(ProgrammePhase).where(ProgrammePhase.programme_id == programme.id))
    }
    for phase_in in doc.phases:
        phase = phases.get(phase_in.code)
        phase_values = phase_in.model_dump(exclude={"code", "areas"})
        if phase is None:
            phase = ProgrammePhase(programme_id=programme.id, code=phase_in.code, **phase_values)
            session.add(phase)
            session.flush()
            phases[phase.code] = phase
        else:
            _set(phase, phase_values)
        session.execute(delete(ProgrammePhaseArea).where(ProgrammePhaseArea.phase_id == phase.id))
        for aid in dict.fromkeys(phase_areas[phase_in.code]):
            session.add(ProgrammePhaseArea(phase_id=phase.id, area_id=aid))
        result.phases += 1

    projects = {
        p.code: p
        for p in session.scalars(
            select(ProgrammeProject).where(ProgrammeProject.programme_id == programme.id)
        )
    }
    now = utcnow()
    for project_in in doc.projects:
        project_values = project_in.model_dump(exclude={"code", "phase", "disbursements"})
        project_values["phase_id"] = phases[project_in.phase].id if project_in.phase else None
        project = projects.get(project_in.code)
        if project is None:
            project = ProgrammeProject(
                programme_id=programme.id, code=project_in.code, updated_at=now, **project_values
            )
            session.add(project)
            session.flush()
            result.projects_created += 1
        elif _set(project, project_values):
            project.updated_at = now
            result.projects_updated += 1
        for item in project_in.disbursements:
            if _add_disbursement(session, project, item, demo=project_in.demo, by="import") is not None:
                result.disbursements_added += 1

    planned = sum(p.budget_planned_vnd for p in doc.projects)
    if doc.budget_planned_vnd and planned > doc.budget_planned_vnd:
        result.warnings.append(
            f"the projects plan {planned:,} VND, more than the programme's {doc.budget_planned_vnd:,} VND"
        )
    session.flush()
    starts = [p.starts_on for p in doc.phases] + [
        d.disbursed_on for p in doc.projects for d in p.disbursements
    ]
    _changed(session, programme, min(starts, default=None))
    record(
        session,
        actor,
        "programme.import",
        "programme",
        programme.id,
        before,
        snapshot(programme, extra={"projects": len(doc.projects), "phases": len(doc.phases)}),
        request,
        label=None if actor else "import",
    )
    return result


def _add_disbursement(
    session: Session, project: ProgrammeProject, item: DisbursementIn, *, demo: bool, by: str
) -> Disbursement | None:
    """Add a disbursement unless the same one (date, amount, document) is already recorded."""
    same = session.scalar(
        select(Disbursement.id).where(
            Disbursement.project_id == project.id,
            Disbursement.disbursed_on == item.disbursed_on,
            Disbursement.amount_vnd == item.amount_vnd,
            Disbursement.document == item.document,
        )
    )
    if same is not None:
        return None
    row = Disbursement(project_id=project.id, demo=demo, created_by=by, **item.model_dump())
    session.add(row)
    session.flush()
    return row


def get_programme(session: Session, code: str) -> Programme:
    programme = session.scalar(select(Programme).where(Programme.code == code))
    if programme is None:
        raise NotFound(f"No programme {code}")
    return programme


def get_project(session: Session, programme: Programme, code: str) -> ProgrammeProject:
    project = session.scalar(
        select(ProgrammeProject).where(
            ProgrammeProject.programme_id == programme.id, ProgrammeProject.code == code
        )
    )
    if project is None:
        raise NotFound(f"No project {code} in programme {programme.code}")
    return project


def patch_project(
    session: Session,
    project: ProgrammeProject,
    patch: ProjectPatch,
    *,
    actor: Principal,
    request: Request | None,
) -> ProgrammeProject:
    values = patch.model_dump(exclude_unset=True)
    if not values:
        raise Invalid("Nothing to change")
    if any(v is None for k, v in values.items() if k in {"status", "progress_pct", "budget_planned_vnd"}):
        raise Invalid("status, progress_pct and budget_planned_vnd cannot be null")
    merged = {"status": project.status, "progress_pct": project.progress_pct} | values
    if merged["status"] == "completed" and merged["progress_pct"] != 100:
        raise Invalid(
            "A completed project has progress_pct 100", details={"progress_pct": merged["progress_pct"]}
        )
    starts, ends = values.get("starts_on", project.starts_on), values.get("ends_on", project.ends_on)
    if starts and ends and ends < starts:
        raise Invalid("ends_on is before starts_on")
    before = snapshot(project)
    if _set(project, values):
        project.updated_at = utcnow()
        session.flush()
        programme = session.get(Programme, project.programme_id)
        if programme is not None:
            _changed(session, programme, min((d for d in (starts, ends) if d), default=None))
        record(
            session,
            actor,
            "programme.project.update",
            "programme_project",
            project.id,
            before,
            snapshot(project),
            request,
        )
    return project


def add_disbursement(
    session: Session,
    project: ProgrammeProject,
    item: DisbursementIn,
    *,
    actor: Principal,
    request: Request | None,
) -> Disbursement:
    row = _add_disbursement(session, project, item, demo=False, by=actor.label)
    if row is None:
        raise Conflict("This disbursement (date, amount, document) is already recorded")
    programme = session.get(Programme, project.programme_id)
    if programme is not None:
        _changed(session, programme, item.disbursed_on)
    record(
        session,
        actor,
        "programme.disbursement.add",
        "programme_project",
        project.id,
        None,
        snapshot(row),
        request,
    )
    return row


# --- progress ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """A programme's figures on a day: planned and disbursed money, project counts by status."""

    budget_planned_vnd: int
    projects_planned_vnd: int
    disbursed_vnd: int
    disbursement_rate_pct: float | None  # of the programme's planned budget
    projects_by_status: dict[str, int]
    completion_pct: float | None  # share of projects completed (cancelled ones left out)
    progress_pct: float | None  # projects' progress weighted by their planned budget
    disbursed_by_year: dict[int, int]


def progress(session: Session, programme: Programme, *, until: date | None = None) -> Progress:
    """One programme's progress (see :func:`progress_of`)."""
    return progress_of(session, [programme], until=until)[programme.id]


def progress_of(
    session: Session, programmes: Sequence[Programme], *, until: date | None = None
) -> dict[int, Progress]:
    """Each programme's progress from its rows: two grouped queries, whatever the number of programmes."""
    ids = [p.id for p in programmes]
    projects: dict[int, list[tuple[str, float, int]]] = defaultdict(list)
    for pid, status, pct, budget in session.execute(
        select(
            ProgrammeProject.programme_id,
            ProgrammeProject.status,
            ProgrammeProject.progress_pct,
            ProgrammeProject.budget_planned_vnd,
        ).where(ProgrammeProject.programme_id.in_(ids))
    ):
        projects[pid].append((status, pct, budget))
    stmt = (
        select(ProgrammeProject.programme_id, Disbursement.disbursed_on, func.sum(Disbursement.amount_vnd))
        .join(ProgrammeProject, ProgrammeProject.id == Disbursement.project_id)
        .where(ProgrammeProject.programme_id.in_(ids))
        .group_by(ProgrammeProject.programme_id, Disbursement.disbursed_on)
    )
    if until is not None:
        stmt = stmt.where(Disbursement.disbursed_on <= until)
    by_year: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for pid, day, amount in session.execute(stmt):
        by_year[pid][day.year] += int(amount or 0)
    return {p.id: _progress(p, projects[p.id], by_year[p.id]) for p in programmes}


def _progress(
    programme: Programme, projects: list[tuple[str, float, int]], by_year: dict[int, int]
) -> Progress:
    disbursed = sum(by_year.values())
    statuses: dict[str, int] = defaultdict(int)
    for status, _pct, _budget in projects:
        statuses[status] += 1
    live = [(pct, budget) for status, pct, budget in projects if status != "cancelled"]
    weight = sum(budget for _pct, budget in live)
    planned = programme.budget_planned_vnd
    return Progress(
        budget_planned_vnd=planned,
        projects_planned_vnd=sum(budget for _s, _p, budget in projects),
        disbursed_vnd=disbursed,
        disbursement_rate_pct=round(100 * disbursed / planned, 2) if planned else None,
        projects_by_status=dict(statuses),
        completion_pct=round(100 * statuses["completed"] / len(live), 2) if live else None,
        progress_pct=round(sum(pct * budget for pct, budget in live) / weight, 2) if weight else None,
        disbursed_by_year=dict(sorted(by_year.items())),
    )


def phase_area_ids(session: Session, programme: Programme) -> dict[int, list[int]]:
    rows = session.execute(
        select(ProgrammePhaseArea.phase_id, ProgrammePhaseArea.area_id)
        .join(ProgrammePhase, ProgrammePhase.id == ProgrammePhaseArea.phase_id)
        .where(ProgrammePhase.programme_id == programme.id)
        .order_by(ProgrammePhaseArea.phase_id, ProgrammePhaseArea.area_id)
    )
    out: dict[int, list[int]] = defaultdict(list)
    for phase_id, area_id in rows:
        out[phase_id].append(area_id)
    return out


def disbursed_by_project(session: Session, programme: Programme) -> dict[int, int]:
    rows = session.execute(
        select(Disbursement.project_id, func.sum(Disbursement.amount_vnd))
        .join(ProgrammeProject, ProgrammeProject.id == Disbursement.project_id)
        .where(ProgrammeProject.programme_id == programme.id)
        .group_by(Disbursement.project_id)
    )
    return {pid: int(total or 0) for pid, total in rows}

"""The shapes a programme is imported and edited in (strict pydantic: a wrong field is a 422, nothing written)."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Status = Literal["planned", "in_progress", "completed", "cancelled"]
Code = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_.-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AreaRef(_Strict):
    """An area as a programme names it: its statistics-office code and level on a date (codes were reused)."""

    code: str = Field(min_length=1, max_length=16)
    level: Literal["province", "district", "commune"]
    on: date


class DisbursementIn(_Strict):
    disbursed_on: date
    amount_vnd: int = Field(gt=0, le=10**15)
    document: str = Field(default="", max_length=300)
    note: str = Field(default="", max_length=2000)


class ProjectIn(_Strict):
    code: str = Code
    name_vi: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    phase: str | None = None  # a phase code of the same programme
    sector: str = Field(default="", max_length=64)
    lead: str = Field(default="", max_length=200)
    budget_planned_vnd: int = Field(default=0, ge=0, le=10**15)
    status: Status = "planned"
    progress_pct: float = Field(default=0.0, ge=0, le=100)
    starts_on: date | None = None
    ends_on: date | None = None
    demo: bool = False
    disbursements: list[DisbursementIn] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        if self.status == "completed" and self.progress_pct != 100:
            raise ValueError("a completed project has progress_pct 100")
        return self


class PhaseIn(_Strict):
    code: str = Code
    name_vi: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    starts_on: date
    ends_on: date
    description_vi: str = Field(default="", max_length=4000)
    description_en: str = Field(default="", max_length=4000)
    areas: list[AreaRef] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _dates(self) -> Self:
        if self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class ProgrammeIn(_Strict):
    """A whole programme document (the import format; see docs/programmes.md)."""

    code: str = Code
    name_vi: str = Field(min_length=1, max_length=300)
    name_en: str = Field(min_length=1, max_length=300)
    decision: str = Field(default="", max_length=300)
    approved_on: date | None = None
    lead_agency: str = Field(default="", max_length=200)
    area: AreaRef | None = None
    budget_planned_vnd: int = Field(default=0, ge=0, le=10**15)
    source: str = Field(default="", max_length=4000)
    demo: bool = False
    phases: list[PhaseIn] = Field(default_factory=list, max_length=20)
    projects: list[ProjectIn] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _references(self) -> Self:
        phases = [p.code for p in self.phases]
        if len(set(phases)) != len(phases):
            raise ValueError("phase codes repeat")
        codes = [p.code for p in self.projects]
        if len(set(codes)) != len(codes):
            raise ValueError("project codes repeat")
        for project in self.projects:
            if project.phase is not None and project.phase not in phases:
                raise ValueError(f"project {project.code}: unknown phase {project.phase!r}")
        return self


class ProjectPatch(_Strict):
    """What an officer updates on a project as it moves (all optional; at least one)."""

    status: Status | None = None
    progress_pct: float | None = Field(default=None, ge=0, le=100)
    budget_planned_vnd: int | None = Field(default=None, ge=0, le=10**15)
    lead: str | None = Field(default=None, max_length=200)
    starts_on: date | None = None
    ends_on: date | None = None

"""Case categories: the spec sectors declare (``case_categories`` hook), its table sync, answer validation.

A category carries its extra questions (Open311 "attributes"), its default handling SLA in working hours
and whether it is urgent. Sectors return :class:`CategorySpec` objects; :func:`sync_categories` writes them
into the ``case_categories`` table, which the APIs read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import Invalid
from cityops.text import nfc, search_key


class Datatype(StrEnum):
    """Open311 attribute datatypes (``date`` is ours; Open311 calls it ``datetime``)."""

    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"
    SINGLEVALUELIST = "singlevaluelist"
    MULTIVALUELIST = "multivaluelist"


@dataclass(frozen=True)
class QuestionSpec:
    """One extra question of a category."""

    code: str
    label: str
    datatype: Datatype
    required: bool = False
    description: str = ""
    values: tuple[tuple[str, str], ...] = ()  # (key, name) for the list datatypes
    max_length: int = 500

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "label": self.label,
            "datatype": self.datatype.value,
            "required": self.required,
            "description": self.description,
            "values": [list(v) for v in self.values],
            "max_length": self.max_length,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuestionSpec:
        return cls(
            code=data["code"],
            label=data["label"],
            datatype=Datatype(data["datatype"]),
            required=bool(data.get("required", False)),
            description=data.get("description", ""),
            values=tuple((str(k), str(n)) for k, n in data.get("values", [])),
            max_length=int(data.get("max_length", 500)),
        )


@dataclass(frozen=True)
class CategorySpec:
    """A case category as a sector declares it."""

    code: str
    name_vi: str
    name_en: str
    sla_hours: float = 40.0  # working hours to resolve
    urgent: bool = False
    description: str = ""
    group: str = ""
    keywords: tuple[str, ...] = ()
    questions: tuple[QuestionSpec, ...] = field(default_factory=tuple)
    sector: str = "core"
    order: int = 100


def collect_specs() -> list[CategorySpec]:
    """Every category the registered plugins declare; a later duplicate code replaces an earlier one."""
    from cityops.plugins import plugin_manager

    by_code: dict[str, CategorySpec] = {}
    for batch in reversed(plugin_manager().hook.case_categories()):
        for spec in batch:
            if isinstance(spec, dict):  # a plugin may declare plain data
                data = dict(spec)
                data["questions"] = tuple(
                    q if isinstance(q, QuestionSpec) else QuestionSpec.from_dict(q)
                    for q in data.get("questions", ())
                )
                data["keywords"] = tuple(data.get("keywords", ()))
                spec = CategorySpec(**data)
            if isinstance(spec, CategorySpec):
                by_code[spec.code] = spec
    return sorted(by_code.values(), key=lambda s: (s.order, s.code))


def sync_categories(session: Session, specs: list[CategorySpec] | None = None) -> int:
    """Upsert the declared categories into the table (idempotent); return how many there are.

    Categories no longer declared are deactivated, never deleted (cases keep pointing at them).
    """
    from cityops.reports.models import Category

    specs = collect_specs() if specs is None else specs
    existing = {c.code: c for c in session.scalars(select(Category))}
    seen = set()
    for spec in specs:
        row = existing.get(spec.code) or Category(code=spec.code)
        row.name_vi = nfc(spec.name_vi)
        row.name_en = nfc(spec.name_en)
        row.name_key = search_key(f"{spec.name_vi} {spec.name_en} {' '.join(spec.keywords)}")
        row.description = spec.description
        row.group = spec.group
        row.sla_hours = spec.sla_hours
        row.urgent = spec.urgent
        row.questions = [q.to_dict() for q in spec.questions]
        row.sector = spec.sector
        row.order = spec.order
        row.active = True
        if spec.code not in existing:
            session.add(row)
        seen.add(spec.code)
    for code, row in existing.items():
        if code not in seen:
            row.active = False
    session.flush()
    return len(seen)


def _check_one(q: QuestionSpec, value: Any) -> Any:
    keys = {k for k, _ in q.values}
    if q.datatype in (Datatype.STRING, Datatype.TEXT):
        if not isinstance(value, str):
            raise ValueError("must be text")
        text = nfc(value)
        limit = q.max_length if q.datatype is Datatype.STRING else max(q.max_length, 4000)
        if len(text) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return text
    if q.datatype is Datatype.NUMBER:
        if isinstance(value, bool):
            raise ValueError("must be a number")
        if isinstance(value, int | float):
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError("must be a number") from None
            return int(number) if number.is_integer() else number
        raise ValueError("must be a number")
    if q.datatype is Datatype.DATE:
        if not isinstance(value, str):
            raise ValueError("must be a date (yyyy-mm-dd)")
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            raise ValueError("must be a date (yyyy-mm-dd)") from None
    if q.datatype is Datatype.SINGLEVALUELIST:
        if not isinstance(value, str) or value not in keys:
            raise ValueError(f"must be one of {sorted(keys)}")
        return value
    # multivaluelist
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        raise ValueError("must be a list of choices")
    bad = [v for v in items if v not in keys]
    if bad:
        raise ValueError(f"unknown choices {bad}; allowed {sorted(keys)}")
    return list(dict.fromkeys(items))


def validate_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, Any]:
    """Check ``answers`` against a category's questions; return the cleaned answers or raise 422.

    Every problem is reported at once in ``details`` (``{question_code: message}``).
    """
    specs = [QuestionSpec.from_dict(q) for q in questions]
    known = {q.code for q in specs}
    problems: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for code in answers:
        if code not in known:
            problems[code] = "unknown question for this category"
    for q in specs:
        value = answers.get(q.code)
        if value is None or value == "" or value == []:
            if q.required:
                problems[q.code] = "is required"
            continue
        try:
            cleaned[q.code] = _check_one(q, value)
        except ValueError as exc:
            problems[q.code] = str(exc)
    if problems:
        raise Invalid("Some answers to the category's questions are not valid", details=problems)
    return cleaned

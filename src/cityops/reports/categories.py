"""Case categories: the spec sectors declare (``case_categories`` hook), its table sync, answer validation.

A category carries its extra questions (Open311 "attributes"), its default handling SLA in working hours
and whether it is urgent. Sectors return :class:`CategorySpec` objects; :func:`sync_categories` writes them
into the ``case_categories`` table, which the APIs read. The specs themselves live in :mod:`cityops.specs`
(the kernel a sector may depend on alone); they are re-exported here for the modules that still import them
from this one.
"""

from __future__ import annotations

import math
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import Invalid
from cityops.specs import CategorySpec, Datatype, QuestionSpec
from cityops.text import nfc, search_key

__all__ = ["CategorySpec", "Datatype", "QuestionSpec", "collect_specs", "sync_categories", "validate_answers"]


def collect_specs() -> list[CategorySpec]:
    """Every category the registered plugins declare (``case_categories`` hook), in display order.

    A declaration that is not a :class:`CategorySpec`, or a code two plugins declare, fails naming the plugin
    (:func:`cityops.plugins.declarations`)."""
    from cityops.plugins import declarations

    specs = [spec for _, spec in declarations("case_categories", CategorySpec)]
    return sorted(specs, key=lambda s: (s.order, s.code))


def restricted_codes() -> frozenset[str]:
    """Codes of the restricted categories (``CategorySpec.restricted``, public order): their cases are stored
    hidden, so no public view (map, search, Open311, open data, duplicate suggestions) ever holds them, and only
    the policy's ``case.view_restricted`` (the holding agency, the IOC operator) opens them to staff.

    Asked on every submission and case check: the answer is kept per set of registered plugins, so the hooks
    run once, not per request (a plugin registered later gets a fresh answer)."""
    from cityops.plugins import plugin_manager

    return _restricted_codes(tuple(name for name, _ in plugin_manager().list_name_plugin()))


@cache
def _restricted_codes(_plugins: tuple[str, ...]) -> frozenset[str]:
    return frozenset(spec.code for spec in collect_specs() if spec.restricted)


ADMIN_SECTOR = "admin"  # categories added on the admin pages (cityops.admin), not declared by a plugin


def sync_categories(session: Session, specs: list[CategorySpec] | None = None) -> int:
    """Upsert the declared categories into the table (idempotent); return how many there are.

    Categories no longer declared are deactivated, never deleted (cases keep pointing at them); those the
    administration added (sector ``admin``) are left alone.
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
        if code not in seen and row.sector != ADMIN_SECTOR:  # the administration's own stay as they are
            row.active = False
    session.flush()
    return len(seen)


# The largest magnitude a number answer may have: every JSON reader holds it exactly (2**53), and an
# answer has no use for more; "NaN", "Infinity" and 1e999 (read as infinity) are refused, never stored.
MAX_NUMBER = 2**53


def _finite(value: int | float) -> float:
    """``value`` as a float if it is a finite number within :data:`MAX_NUMBER`, else ValueError."""
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        raise ValueError(f"must be a number between -{MAX_NUMBER} and {MAX_NUMBER}") from None
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise ValueError(f"must be a finite number between -{MAX_NUMBER} and {MAX_NUMBER}")
    return number


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
            _finite(value)
            return value
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                raise ValueError("must be a number") from None
            number = _finite(number)
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

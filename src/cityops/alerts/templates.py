"""Rule templates: the default rules sectors declare through the ``rule_templates`` hook.

A template is installed once as a :class:`~cityops.alerts.models.Rule` keyed by its ``code``; an
admin can then edit or disable that rule, and installing again leaves it alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Rule, RuleKind
from cityops.alerts.rules import parse_params
from cityops.clock import utcnow


@dataclass(frozen=True, slots=True)
class RuleTemplate:
    code: str
    name_vi: str
    name_en: str
    kind: RuleKind
    property_code: str
    parameters: Mapping[str, Any]
    message_vi: str = ""
    message_en: str = ""
    enabled: bool = True
    sector: str = ""
    notes: str = field(default="", compare=False)


def install(session: Session, templates: Iterable[RuleTemplate]) -> list[Rule]:
    """Create a rule for every template whose code is not yet used; returns the new rules."""
    existing = set(session.scalars(select(Rule.code).where(Rule.code.is_not(None))).all())
    created = []
    now = utcnow()
    for tpl in templates:
        if tpl.code in existing:
            continue
        params = parse_params(tpl.kind, tpl.parameters).model_dump(exclude_none=True)
        rule = Rule(
            code=tpl.code,
            name_vi=tpl.name_vi,
            name_en=tpl.name_en,
            kind=tpl.kind,
            property_code=tpl.property_code,
            area_ids=[],
            parameters=params,
            message_vi=tpl.message_vi,
            message_en=tpl.message_en,
            enabled=tpl.enabled,
            created_at=now,
            updated_at=now,
        )
        session.add(rule)
        existing.add(tpl.code)
        created.append(rule)
    session.flush()
    return created

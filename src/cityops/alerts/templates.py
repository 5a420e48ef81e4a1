"""Rule templates: the default rules sectors declare through the ``rule_templates`` hook.

A template is installed once as a :class:`~cityops.alerts.models.Rule` keyed by its ``code``; an
admin can then edit or disable that rule, and installing again leaves it alone. The alerts plugin installs
every declared template when the app starts and when ``cityops db upgrade`` has run, so a deployment gets
its sectors' rules without the demo. :class:`~cityops.specs.RuleTemplate` lives in the kernel, which does
not know :class:`~cityops.alerts.models.RuleKind`: its ``kind`` and ``parameters`` are checked here.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.alerts.models import Rule, RuleKind
from cityops.alerts.rules import parse_params
from cityops.clock import utcnow
from cityops.specs import RuleTemplate, SpecError

__all__ = ["RuleTemplate", "declared_templates", "install"]


def check(tpl: RuleTemplate, where: str) -> dict[str, object]:
    """The template's parameters as the rule stores them; a wrong kind or parameter raises
    :class:`~cityops.specs.SpecError` starting with ``where`` (the plugin that declared it)."""
    try:
        kind = RuleKind(tpl.kind)
    except ValueError:
        allowed = ", ".join(k.value for k in RuleKind)
        raise SpecError(
            f"{where}: rule template {tpl.code!r} has kind {tpl.kind!r}; use one of {allowed}"
        ) from None
    try:
        return parse_params(kind, tpl.parameters).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise SpecError(f"{where}: rule template {tpl.code!r} has bad parameters: {exc}") from None


def declared_templates() -> list[RuleTemplate]:
    """Every template the plugins declare (``rule_templates`` hook), each checked (fails naming the plugin)."""
    from cityops.plugins import declarations

    found = declarations("rule_templates", RuleTemplate)
    for plugin, tpl in found:
        check(tpl, f"plugin {plugin}")
    return [tpl for _, tpl in found]


def install(session: Session, templates: Iterable[RuleTemplate]) -> list[Rule]:
    """Create a rule for every template whose code is not yet used; returns the new rules."""
    existing = set(session.scalars(select(Rule.code).where(Rule.code.is_not(None))).all())
    created = []
    now = utcnow()
    for tpl in templates:
        if tpl.code in existing:
            continue
        params = check(tpl, f"sector {tpl.sector or '?'}")
        rule = Rule(
            code=tpl.code,
            name_vi=tpl.name_vi,
            name_en=tpl.name_en,
            kind=RuleKind(tpl.kind),
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

"""The declared indicators, sets and calculators, checked together and synced into tables at start-up.

An indicator that names an unknown set, an unknown calculator method, a method of another source or an
unknown area level fails here, naming the plugin, so a broken sector stops the start instead of leaving
holes in the IOC.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops import plugins
from cityops.indicators.models import Indicator, IndicatorSet, IndicatorSetMember
from cityops.specs import (
    IndicatorCalculatorSpec,
    IndicatorSetSpec,
    IndicatorSource,
    IndicatorSpec,
    SpecError,
)

LEVELS = ("province", "district", "commune")
AGGREGATIONS = ("sum", "ratio", "per_capita", "direct")


@dataclass(frozen=True)
class Registry:
    """Every declaration, by code, with the plugin that made it."""

    indicators: dict[str, IndicatorSpec]
    sets: dict[str, IndicatorSetSpec]
    calculators: dict[str, IndicatorCalculatorSpec]
    plugin_of: dict[str, str]

    def calculator(self, spec: IndicatorSpec) -> IndicatorCalculatorSpec | None:
        """The calculator of a computed indicator (None for a manual one)."""
        return self.calculators.get(spec.method) if spec.source is not IndicatorSource.MANUAL else None


def _check(
    plugin: str,
    spec: IndicatorSpec,
    sets: dict[str, IndicatorSetSpec],
    calcs: dict[str, IndicatorCalculatorSpec],
) -> None:
    def fail(why: str) -> None:
        raise SpecError(f"plugin {plugin}: indicator {spec.code!r} {why}")

    for set_code, _number in spec.sets:
        if set_code not in sets:
            fail(f"names unknown indicator set {set_code!r}")
    unknown = [lv for lv in spec.levels if lv not in LEVELS]
    if unknown or not spec.levels:
        fail(f"rolls up to unknown area levels {unknown or '(none)'}; known: {', '.join(LEVELS)}")
    if spec.aggregation not in AGGREGATIONS:
        fail(f"has unknown aggregation {spec.aggregation!r}")
    if spec.source is IndicatorSource.MANUAL:
        if spec.method:
            fail("is entered by hand but names a method")
        if spec.by_agency:
            fail("is entered by hand but asks for an agency breakdown")
        return
    calc = calcs.get(spec.method)
    if calc is None:
        fail(f"names unknown method {spec.method!r}")
    elif calc.source is not spec.source:
        fail(f"has source {spec.source.value} but method {spec.method!r} computes from {calc.source.value}")
    elif spec.by_agency and calc.by_agency is None:
        fail(f"asks for an agency breakdown but method {spec.method!r} has no by_agency")


def load() -> Registry:
    """Collect and check the declarations of every plugin (raises :class:`SpecError` naming the plugin)."""
    sets = {s.code: s for _p, s in plugins.declarations("indicator_sets", IndicatorSetSpec)}
    calcs = {c.method: c for _p, c in plugins.declarations("indicator_calculators", IndicatorCalculatorSpec)}
    indicators: dict[str, IndicatorSpec] = {}
    plugin_of: dict[str, str] = {}
    for plugin, spec in plugins.declarations("indicators", IndicatorSpec):
        _check(plugin, spec, sets, calcs)
        indicators[spec.code] = spec
        plugin_of[spec.code] = plugin
    return Registry(indicators, sets, calcs, plugin_of)


def sync(session: Session, registry: Registry | None = None) -> Registry:
    """Write the declarations into their tables (insert or update by code); undeclared indicators turn
    inactive, their values kept. The caller commits."""
    reg = registry or load()
    plugin_of_set = {s.code: p for p, s in plugins.declarations("indicator_sets", IndicatorSetSpec)}
    known_sets = {s.code: s for s in session.scalars(select(IndicatorSet))}
    for code, set_spec in reg.sets.items():
        set_row = known_sets.get(code) or IndicatorSet(code=code)
        set_row.name_vi, set_row.name_en, set_row.publisher = (
            set_spec.name_vi,
            set_spec.name_en,
            set_spec.publisher,
        )
        set_row.document, set_row.year, set_row.url = set_spec.document, set_spec.year, set_spec.url
        set_row.plugin = plugin_of_set.get(code, "")
        session.add(set_row)
    session.flush()
    known = {i.code: i for i in session.scalars(select(Indicator))}
    for code, spec in reg.indicators.items():
        row = known.get(code) or Indicator(code=code)
        row.name_vi, row.name_en, row.unit = spec.name_vi, spec.name_en, spec.unit
        row.direction, row.period, row.source = spec.direction, spec.period.value, spec.source.value
        row.sector, row.method, row.params = spec.sector, spec.method, dict(spec.params)
        row.levels, row.aggregation, row.decimals = list(spec.levels), spec.aggregation, spec.decimals
        row.description_vi, row.description_en = spec.description_vi, spec.description_en
        row.source_document, row.plugin, row.active = spec.source_document, reg.plugin_of[code], True
        row.by_agency = spec.by_agency
        session.add(row)
    for code, row in known.items():
        if code not in reg.indicators:
            row.active = False
    session.flush()
    members = {(m.set_code, m.indicator_code): m for m in session.scalars(select(IndicatorSetMember))}
    wanted = {(s, spec.code): n for spec in reg.indicators.values() for s, n in spec.sets}
    for key, number in wanted.items():
        member = members.get(key) or IndicatorSetMember(set_code=key[0], indicator_code=key[1])
        member.number = number
        session.add(member)
    for key, member in members.items():
        if key not in wanted:
            session.delete(member)
    session.flush()
    return reg

"""Declarations: synced into tables; a wrong one fails naming its plugin."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops import plugins
from cityops.indicators.models import Indicator, IndicatorSet, IndicatorSetMember
from cityops.indicators.registry import load, sync
from cityops.specs import IndicatorSource, IndicatorSpec, Period, SpecError


def _spec(**kw: object) -> IndicatorSpec:
    values: dict[str, object] = {
        "code": "test.bad", "name_vi": "Thử", "name_en": "Test", "unit": "1", "direction": "higher",
        "period": Period.MONTH, "source": IndicatorSource.CASES, "sector": "test", "method": "cases.received",
    }  # fmt: skip
    values.update(kw)
    return IndicatorSpec(**values)  # type: ignore[arg-type]


@pytest.fixture
def declare() -> Iterator[list[IndicatorSpec]]:
    """Register a plugin named ``test-bad-plugin`` declaring whatever the test appends."""
    declared: list[IndicatorSpec] = []
    plugin = SimpleNamespace(indicators=plugins.hookimpl(lambda: declared))
    pm = plugins.plugin_manager()
    pm.register(plugin, name="test-bad-plugin")
    try:
        yield declared
    finally:
        pm.unregister(plugin)


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        (_spec(sets=(("no_such_set", "1"),)), "unknown indicator set 'no_such_set'"),
        (_spec(method="cases.nothing"), "unknown method 'cases.nothing'"),
        (_spec(levels=("ward",)), "unknown area levels ['ward']"),
        (_spec(source=IndicatorSource.OBSERVATIONS), "method 'cases.received' computes from cases"),
        (_spec(source=IndicatorSource.MANUAL), "entered by hand but names a method"),
        (_spec(aggregation="median"), "unknown aggregation 'median'"),
        (_spec(code="cases.on_time_rate"), "already declared by cityops.reports.plugin"),
    ],
)
def test_a_wrong_declaration_fails_naming_the_plugin(
    declare: list[IndicatorSpec], spec: IndicatorSpec, why: str
) -> None:
    declare.append(spec)
    with pytest.raises(SpecError, match="test-bad-plugin") as err:
        load()
    assert why in str(err.value)


def test_sync_writes_sets_indicators_and_memberships(session: Session, declare: list[IndicatorSpec]) -> None:
    declare.append(_spec(code="test.good", sets=(("iso_37122", "99.9"),)))
    reg = sync(session)
    session.commit()
    codes = set(session.scalars(select(Indicator.code).where(Indicator.active.is_(True))))
    assert codes == set(reg.indicators)
    assert {"cases.on_time_rate", "environment.salinity_days_4", "ict.fibre_households", "test.good"} <= codes
    assert set(session.scalars(select(IndicatorSet.code))) >= {
        "vn_smart_city_2026", "vn_smart_city_2019", "iso_37122", "long_an_scheme_2020",
    }  # fmt: skip
    row = session.get(Indicator, "test.good")
    assert row is not None
    assert (row.plugin, row.method, row.period, row.levels) == (
        "test-bad-plugin", "cases.received", "month", ["province", "commune"],
    )  # fmt: skip
    member = session.get(IndicatorSetMember, ("iso_37122", "test.good"))
    assert member is not None
    assert member.number == "99.9"
    manual = session.get(Indicator, "ict.fibre_households")
    assert manual is not None
    assert (manual.source, manual.method, manual.source_document != "") == ("manual", "", True)

    declare.clear()  # the plugin stops declaring it: kept, inactive, its set membership gone
    sync(session)
    session.commit()
    session.expire_all()
    gone = session.get(Indicator, "test.good")
    assert gone is not None
    assert gone.active is False
    assert session.get(IndicatorSetMember, ("iso_37122", "test.good")) is None

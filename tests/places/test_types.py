"""Place types: synced from the ``place_types`` hook (idempotent), kept when no longer declared, and a wrong
declaration fails naming its plugin."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from cityops.places.models import PlaceType
from cityops.places.types import attribute_specs, sync_place_types
from cityops.plugins import hookimpl, plugin_manager
from cityops.specs import AttributeType, PlaceTypeSpec, SpecError
from tests.places.conftest import GATE


def test_sync_is_idempotent_and_keeps_undeclared_types(session: Session) -> None:
    declared = sync_place_types(session)
    session.commit()
    gate = session.get(PlaceType, "t_gate")
    assert gate is not None
    assert gate.plugin == "tests.places.plugin"
    assert [a.code for a in attribute_specs(gate)] == [a.code for a in GATE.attributes]
    assert attribute_specs(gate)[1].type is AttributeType.NUMBER
    assert attribute_specs(gate)[0] == GATE.attributes[0]
    stamp = gate.synced_at
    assert sync_place_types(session) == declared
    session.commit()
    session.refresh(gate)
    assert gate.synced_at == stamp  # nothing changed, nothing written
    plugin_manager().unregister(name="tests.places.plugin")
    try:
        sync_place_types(session)
        session.commit()
        session.refresh(gate)
        assert gate.declared is False  # places may still point at it
    finally:
        plugin_manager().register(_module(lambda: [GATE]), name="tests.places.plugin")


def _module(fn: Callable[[], list[PlaceTypeSpec]]) -> types.ModuleType:
    module = types.ModuleType("tests.places.bad")
    module.place_types = hookimpl(fn)  # type: ignore[attr-defined]
    return module


@pytest.fixture
def bad_plugin() -> Iterator[list[PlaceTypeSpec]]:
    specs: list[PlaceTypeSpec] = []
    plugin_manager().register(_module(lambda: specs), name="tests.places.bad")
    try:
        yield specs
    finally:
        plugin_manager().unregister(name="tests.places.bad")


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        (PlaceTypeSpec("bad type", "x", "x", "s"), "needs a code"),
        (PlaceTypeSpec("bad", "x", "x", "s", visibility="secret"), "visibility"),  # type: ignore[arg-type]
        (PlaceTypeSpec("bad", "x", "x", "s", geometry=("Circle",)), "unknown geometry"),  # type: ignore[arg-type]
        (PlaceTypeSpec("bad", "x", "x", "s", default_status="on"), "default status"),
        (PlaceTypeSpec("t_gate", "x", "x", "s"), "already declared by tests.places.plugin"),
    ],
)
def test_a_wrong_declaration_fails_naming_the_plugin(
    session: Session, bad_plugin: list[PlaceTypeSpec], spec: PlaceTypeSpec, why: str
) -> None:
    bad_plugin.append(spec)
    with pytest.raises(SpecError, match=r"tests\.places\.bad") as info:
        sync_place_types(session)
    assert why in str(info.value)
    assert session.get(PlaceType, "bad") is None

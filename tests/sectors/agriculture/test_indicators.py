"""Sluice gate operations: status changes to another status count, confirmations do not."""

from __future__ import annotations

from datetime import timedelta

from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.clock import utcnow
from cityops.places.models import Place
from cityops.places.service import change_status
from cityops.places.types import get_type
from cityops.plugins import declarations
from cityops.sectors.agriculture.demo import load
from cityops.sectors.agriculture.indicators import gate_operations, indicators
from cityops.specs import IndicatorSpec


def test_gate_operations_count_changes_only(session: Session) -> None:
    load(session, Console(quiet=True))
    gate = session.scalars(select(Place).where(Place.name == "Cống đầu kênh Bảo Định")).one()  # open
    ptype = get_type(session, "sluice_gate")
    start = utcnow() - timedelta(minutes=1)
    for status in ("closed", "closed", "partly_open", "open"):  # 3 operations and 1 confirmation
        change_status(session, gate, ptype, status, actor=None)
    change_status(session, gate, ptype, "maintenance", actor=None)  # not an operation of the gate
    session.flush()
    spec = indicators()[0]
    end = utcnow() + timedelta(minutes=1)
    measures = gate_operations(session, spec, {1: None}, start, end)
    assert measures[1].value == 3
    # a window before the changes counts none
    assert gate_operations(session, spec, {1: None}, start - timedelta(days=1), start)[1].value == 0
    # a target whose areas hold no gate counts none
    assert gate_operations(session, spec, {1: frozenset({-1})}, start, end)[1].value == 0


def test_indicators_are_declared_by_the_sector() -> None:
    codes = [spec.code for _plugin, spec in declarations("indicators", IndicatorSpec)]
    assert {"agriculture.gate_operations_month", "agriculture.gate_operations_quarter"} <= set(codes)

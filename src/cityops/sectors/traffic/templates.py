"""The traffic sector's alert rule template (``data/rules.json``): persistent congestion.

A segment's level of service (its counter's ``congestion_level`` datastream, 1 = A … 6 = F) at E or worse for 30
minutes opens a warning, at F for 30 minutes a critical alert; it clears one level below (hysteresis), so a
jam that eases for a reading does not flap.
"""

from __future__ import annotations

from typing import Any

from cityops.sectors.tables import read_table
from cityops.specs import RuleTemplate

SECTOR = "traffic"


def rule_templates(rows: list[dict[str, Any]]) -> tuple[RuleTemplate, ...]:
    return tuple(RuleTemplate(**{**row, "sector": SECTOR}) for row in rows)


TEMPLATES: tuple[RuleTemplate, ...] = rule_templates(read_table("cityops.sectors.traffic", "rules.json"))

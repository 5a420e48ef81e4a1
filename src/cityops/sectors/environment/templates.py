"""Default alert rule templates of the environment sector (installed by the alerts plugin's demo loader),
one row each in ``data/rules.json``.

* Salinity for crops: watch at 1 g/L (sensitive crops), warning at 4 g/L (rice), with hysteresis
  (clear at 0.8 and 3.5 g/L) and 30 minutes above the level before it opens (one tidal spike is not an
  intrusion).
* VN_AQI bands: > 100 watch (Kém), > 150 warning (Xấu), > 200 critical (Rất xấu), clearing 5 below.
* Water-level alarms I/II/III per station: the levels are the Thing's ``alarm_levels`` (metres in the station's
  datum, declared per station as the province's flood-alarm levels: báo động I, II, III); the template reads
  them as watch (I), warning (II) and critical (III). The rule engine only knows "levels from a Thing
  attribute"; this reading of I/II/III is the sector's.
* Silent stations: no salinity or PM2.5 data for 30 minutes (6 × the 5-minute interval).
"""

from __future__ import annotations

from typing import Any

from cityops.alerts.models import RuleKind
from cityops.sectors.tables import read_table
from cityops.specs import RuleTemplate

SECTOR = "environment"


def rule_templates(rows: list[dict[str, Any]]) -> tuple[RuleTemplate, ...]:
    """Rule templates from table rows (``kind`` by its value; the sector is this one)."""
    return tuple(RuleTemplate(**{**row, "kind": RuleKind(row["kind"]), "sector": SECTOR}) for row in rows)


TEMPLATES: tuple[RuleTemplate, ...] = rule_templates(read_table("cityops.sectors.environment", "rules.json"))

"""The sector's data tables: JSON files shipped in this package (``stations.json``, ``rules.json``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def read_table(name: str) -> list[dict[str, Any]]:
    """The rows of one of the package's JSON tables (a JSON array of objects)."""
    rows = json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{name} is not a JSON array of objects")
    return rows

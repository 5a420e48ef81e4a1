"""A sector's data tables: JSON arrays of objects shipped in its ``data/`` folder (stations, rule templates).

Every sector reads its tables the same way, so this one function serves them all; the data stays data (edited
as JSON, with its source written in the sector's docstrings) instead of repeated constructor calls.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def read_table(package: str, name: str) -> list[dict[str, Any]]:
    """The rows of ``data/<name>`` in ``package`` (a JSON array of objects)."""
    text = resources.files(package).joinpath("data", name).read_text(encoding="utf-8")
    rows = json.loads(text)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ValueError(f"{package}: data/{name} is not a JSON array of objects")
    return rows

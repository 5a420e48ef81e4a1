"""What a compiled ``$filter`` expression is (:class:`Val`) and where an entity geometry lives
(:class:`GeoRef`): shared by the filter compiler and its spatial part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    false,
    literal,
    null,
    true,
)

from cityops.db import UTCDateTime


@dataclass(frozen=True)
class GeoRef:
    """An entity geometry column reached from the filtered entity: its table, column and the entity's id in SQL."""

    model: type[Any]
    attr: str
    id_sql: Any
    direct: bool  # id_sql is the filtered entity's own id (no navigation)


@dataclass
class Val:
    """A compiled expression and what it holds."""

    sql: Any
    kind: str  # number | string | bool | datetime | date | time | json | geo | null | duration | geometry
    geo_ref: GeoRef | None = None  # for an entity geometry (kind geo)
    geometry: BaseGeometry | None = None  # for a geography literal
    literal_value: Any = None
    is_literal: bool = False
    json_cast: Callable[[str], Any] | None = None  # for JSON members: "as_float" -> typed SQL
    alt_text: Any = None  # Observation/result: the non-numeric result as text

    def as_json(self, how: str) -> Any:
        """A JSON member read as a number/string/boolean (``how``: as_float, as_string, as_boolean)."""
        assert self.json_cast is not None
        return self.json_cast(how)


def constant(value: Any, kind: str) -> Val:
    sql: Any
    if kind == "bool":
        sql = true() if value else false()
    elif kind == "null":
        sql = null()
    elif kind == "datetime":
        sql = literal(value, UTCDateTime())
    elif kind in {"duration", "date", "time"}:
        sql = None
    else:
        sql = literal(value)
    return Val(sql, kind, literal_value=value, is_literal=True)

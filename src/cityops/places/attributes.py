"""Validating a place's attributes against its type's schema, with one clear error per field.

API bodies are JSON, so values must already have their type (``coerce=False``); CSV imports carry text, so
the importer asks for ``coerce=True`` and ``"12"`` becomes 12 for an integer attribute. ``None`` unsets a
value (refused for a required attribute). Unknown attributes are refused: a typo must not be stored silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cityops.identity.phones import normalize_phone
from cityops.specs import AttributeSpec, AttributeType
from cityops.text import nfc

_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
_TRUE = {"true", "1", "yes", "y", "co", "có", "x"}
_FALSE = {"false", "0", "no", "n", "khong", "không", ""}
# AttributeType.NUMBER_MAP is declared by a concurrent change to the specs; compared by value so this module
# works before and after it lands.
_NUMBER_MAP = "number_map"


class AttributeErrors(ValueError):
    """Attribute values that do not fit the schema: ``problems`` is ``[{"field", "msg"}]``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['msg']}" for p in problems))
        self.problems = problems


def _number(spec: AttributeSpec, value: Any, coerce: bool) -> float:
    if coerce and isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            raise ValueError("must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be a number")
    _bounds(spec, float(value))
    return value


def _bounds(spec: AttributeSpec, value: float) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise ValueError(f"must be at most {spec.maximum:g}")


def _integer(spec: AttributeSpec, value: Any, coerce: bool) -> int:
    if coerce and isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be a whole number")
    _bounds(spec, float(value))
    return value


def _text(spec: AttributeSpec, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be text")
    text = nfc(value)
    if len(text) > spec.max_length:
        raise ValueError(f"must be at most {spec.max_length} characters")
    return text


def _boolean(value: Any, coerce: bool) -> bool:
    if coerce and isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _number_map(spec: AttributeSpec, value: Any, coerce: bool) -> dict[str, float]:
    if coerce and isinstance(value, str):
        import orjson

        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError("must be a JSON object of numbers") from None
    if not isinstance(value, Mapping):
        raise ValueError("must be an object of numbers")
    keys = {k for k, _, _ in spec.values}
    out: dict[str, float] = {}
    for key, item in value.items():
        if keys and key not in keys:
            raise ValueError(f"has key {key!r}, not one of {', '.join(sorted(keys))}")
        try:
            out[str(key)] = _number(spec, item, coerce)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return out


def check_value(spec: AttributeSpec, value: Any, *, coerce: bool = False) -> Any:
    """The stored form of one value, or ValueError saying what is wrong."""
    kind = str(spec.type.value)
    if kind in (AttributeType.STRING, AttributeType.TEXT):
        return _text(spec, value)
    if kind == AttributeType.INTEGER:
        return _integer(spec, value, coerce)
    if kind == AttributeType.NUMBER:
        return _number(spec, value, coerce)
    if kind == AttributeType.BOOLEAN:
        return _boolean(value, coerce)
    if kind == AttributeType.DATE:
        text = _text(spec, value)
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError("must be a date yyyy-mm-dd") from None
    if kind == AttributeType.ENUM:
        keys = [k for k, _, _ in spec.values]
        if value not in keys:
            raise ValueError(f"must be one of {', '.join(keys)}")
        return value
    if kind == AttributeType.URL:
        text = _text(spec, value)
        if not _URL.match(text):
            raise ValueError("must be an http(s) URL")
        return text
    if kind == AttributeType.PHONE:
        text = _text(spec, value)
        try:
            return normalize_phone(text)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
    if kind == _NUMBER_MAP:
        return _number_map(spec, value, coerce)
    raise ValueError(f"has an attribute type ({kind}) this server does not know")


def validate_attributes(
    specs: Sequence[AttributeSpec],
    values: Mapping[str, Any],
    *,
    base: Mapping[str, Any] | None = None,
    coerce: bool = False,
) -> dict[str, Any]:
    """The attributes to store: ``base`` (the current ones, for a PATCH) updated with ``values``.

    Raises :class:`AttributeErrors` listing every problem: unknown names, wrong types, enum keys, bounds,
    and required attributes missing from the result.
    """
    by_code = {s.code: s for s in specs}
    out = dict(base or {})
    problems: list[dict[str, str]] = []
    for name, value in values.items():
        spec = by_code.get(name)
        if spec is None:
            problems.append({"field": f"attributes.{name}", "msg": "is not an attribute of this place type"})
            continue
        if value is None or (coerce and isinstance(value, str) and not value.strip()):
            out.pop(name, None)
            continue
        try:
            out[name] = check_value(spec, value, coerce=coerce)
        except ValueError as exc:
            problems.append({"field": f"attributes.{name}", "msg": str(exc)})
    for spec in specs:
        if (
            spec.required
            and out.get(spec.code) is None
            and f"attributes.{spec.code}" not in {p["field"] for p in problems}
        ):
            problems.append({"field": f"attributes.{spec.code}", "msg": "is required"})
    if problems:
        raise AttributeErrors(problems)
    return {s.code: out[s.code] for s in specs if s.code in out}


def visible_attributes(
    specs: Sequence[AttributeSpec], values: Mapping[str, Any], *, staff: bool
) -> dict[str, Any]:
    """The attributes a caller may see: staff-only ones only for staff."""
    if staff:
        return dict(values)
    hidden = {s.code for s in specs if s.staff_only}
    return {k: v for k, v in values.items() if k not in hidden}

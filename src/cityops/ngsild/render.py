"""Entity representations: normalized (default), ``keyValues`` (simplified), ``concise``; ``attrs``
projection and ``sysAttrs`` (createdAt/modifiedAt only when asked)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cityops.ngsild.errors import BadRequestData

SYS = ("createdAt", "modifiedAt")


def parse_options(raw: str | None, fmt: str | None = None) -> set[str]:
    opts = {o.strip() for o in (raw or "").split(",") if o.strip()}
    if fmt:
        opts.add({"simplified": "keyValues", "normalized": "normalized", "concise": "concise"}.get(fmt, fmt))
    if "simplified" in opts:
        opts.add("keyValues")
    unknown = opts - {"keyValues", "simplified", "concise", "normalized", "sysAttrs", "noOverwrite", "count"}
    if unknown:
        raise BadRequestData(f"unknown options: {', '.join(sorted(unknown))}")
    if "keyValues" in opts and "concise" in opts:
        raise BadRequestData("options keyValues and concise exclude each other")
    return opts


def _value(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_value(a) for a in attr]
    if not isinstance(attr, dict):
        return attr
    for key in ("value", "object", "languageMap", "json", "vocab", "valueList"):
        if key in attr:
            return attr[key]
    return None


def _concise(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_concise(a) for a in attr]
    if not isinstance(attr, dict):
        return attr
    out = {
        k: (_concise(v) if isinstance(v, dict) and "type" in v else v)
        for k, v in attr.items()
        if k not in SYS
    }
    kind = out.pop("type", None)
    if kind in ("Property", "GeoProperty") and set(out) == {"value"}:
        return out["value"]
    if kind not in ("Property", "GeoProperty", "Relationship", "LanguageProperty"):
        out["type"] = kind
    return out


def _strip_sys(attr: Any) -> Any:
    if isinstance(attr, list):
        return [_strip_sys(a) for a in attr]
    if isinstance(attr, dict):
        return {k: _strip_sys(v) if isinstance(v, dict) else v for k, v in attr.items() if k not in SYS}
    return attr


def render(
    entity: dict[str, Any], opts: set[str], attrs: Sequence[str] | None = None, context: Any = None
) -> dict[str, Any]:
    """One entity as asked; ``context`` (ld+json answers) is added as ``@context``."""
    out: dict[str, Any] = {"id": entity["id"], "type": entity["type"]}
    for name, attr in entity.items():
        if name in ("id", "type") or name in SYS:
            continue
        if attrs is not None and name not in attrs:
            continue
        if "keyValues" in opts:
            out[name] = _value(attr)
        elif "concise" in opts:
            out[name] = _concise(attr)
        else:
            out[name] = attr if "sysAttrs" in opts else _strip_sys(attr)
    if "sysAttrs" in opts and "keyValues" not in opts:
        for k in SYS:
            if entity.get(k):
                out[k] = entity[k]
    if context is not None:
        out["@context"] = context
    return out

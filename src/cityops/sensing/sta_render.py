"""Render STA entities as JSON: properties, navigation links and expands, as FROST does.

What a page expands is loaded beforehand by :func:`cityops.sensing.sta_expand.prefetch`; every entity
rendered counts in the read's :class:`cityops.sensing.sta_query.QueryBudget` (a to-one entity shared by
many parents renders once under each).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from cityops.sensing.odata import ExpandItem, ODataError, QueryOptions
from cityops.sensing.sta_entities import ENTITIES, EntityType
from cityops.sensing.sta_query import Context, apply_options, next_link, page

KEEP_NULL = {"result", "resultTime"}

SELECT_EXTRA = {"id", "@iot.id", "@iot.selfLink"}


def check_select(et: EntityType, opts: QueryOptions) -> None:
    """``$select`` names only properties and navigation properties of ``et``."""
    for name in opts.select or ():
        if name not in et.props and name not in et.navs and name not in SELECT_EXTRA:
            raise ODataError(f"$select: {et.name} has no property {name!r}")


def render(ctx: Context, et: EntityType, row: Any, opts: QueryOptions) -> dict[str, Any]:
    """The entity as STA JSON with its navigation links and expands (counted in the read's budget)."""
    ctx.budget.rendered()
    check_select(et, opts)
    selected = set(opts.select) if opts.select else None
    out: dict[str, Any] = {}
    link = ctx.self_link(et, row.id)
    if selected is None or "id" in selected or "@iot.id" in selected:
        out["@iot.id"] = row.id
    if selected is None or "@iot.selfLink" in selected:
        out["@iot.selfLink"] = link
    for name, prop in et.props.items():
        if name == "id":
            continue
        if selected is None or name in selected:
            value = prop.get(row)
            # As FROST: optional properties without a value are left out, except where the
            # standard makes them mandatory-but-nullable (Observation/resultTime, result).
            if value is None and name not in KEEP_NULL:
                continue
            out[name] = value
    expanded = {item.path[0] for item in opts.expand}
    for name, nav in et.navs.items():
        if name in expanded:
            continue
        if selected is None or name in selected:
            if nav.fk is not None and getattr(row, nav.fk) is None:
                continue
            out[f"{name}@iot.navigationLink"] = f"{link}/{name}"
    for item in opts.expand:
        _expand(ctx, et, row, item, out, link)
    return out


def _expand(ctx: Context, et: EntityType, row: Any, item: ExpandItem, out: dict[str, Any], link: str) -> None:
    name = item.path[0]
    nav = et.navs.get(name)
    if nav is None:
        raise ODataError(f"{et.name} has no navigation property {name!r} to expand")
    target = ENTITIES[nav.target]
    alias = aliased(target.model)
    outer = aliased(et.model)
    base = select(alias).where(
        exists(select(outer.id).where(outer.id == row.id, nav.condition(outer, alias)))
    )
    if nav.fk is not None:
        fk = getattr(row, nav.fk)
        if fk is None:
            return
        if item.options.filter is None:
            # to-one without a filter: from the identity map, filled by prefetch() for whole pages
            child = ctx.session.get(target.model, fk)
            if child is not None:
                out[name] = render(ctx, target, child, item.options)
            return
        base = select(alias).where(alias.id == fk)
    stmt, count_stmt = apply_options(ctx, target, base, alias, item.options)
    if not nav.many:
        child = ctx.session.execute(stmt.limit(1)).scalars().first()
        ctx.budget.take(int(child is not None))
        if child is not None:
            out[name] = render(ctx, target, child, item.options)
        return
    cached = ctx.many.get((id(item), row.id))
    if cached is not None:
        rows, more, total = cached
    else:  # an expand prefetch() did not load (its rows count in page())
        rows, more = page(ctx, target, stmt, alias, item.options)
        total = ctx.session.execute(count_stmt).scalar_one() if item.options.count else 0
    if item.options.count:
        out[f"{name}@iot.count"] = total
    out[name] = [render(ctx, target, r, item.options) for r in rows]
    if more:
        out[f"{name}@iot.nextLink"] = next_link(f"{link}/{name}", item.options.raw, item.options, len(rows))


def render_bytes(ctx: Context, et: EntityType, row: Any, opts: QueryOptions) -> bytes:
    """:func:`render` serialised, its size counted in the read's budget."""
    out = orjson.dumps(render(ctx, et, row, opts), option=orjson.OPT_NON_STR_KEYS)
    ctx.budget.wrote(len(out))
    return out

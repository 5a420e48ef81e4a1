"""Load what a page of STA entities expands, for the whole page at once (no N+1), within the read's budget."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from cityops.sensing.odata import ExpandItem
from cityops.sensing.sta_entities import ENTITIES, EntityType, Nav
from cityops.sensing.sta_query import Context, page_size


def prefetch(
    ctx: Context, et: EntityType, rows: list[Any], expand: list[ExpandItem], times: Counter[int] | None = None
) -> None:
    """Load what a page expands with one query per navigation property (no N+1).

    To-one: the related entities by id. To-many: each parent's page of children with
    ``row_number() OVER (PARTITION BY parent ...)``, honouring the expand's $filter, $orderby, $skip,
    $top (and $count with one grouped count).

    ``times`` says how often each of ``rows`` (by id) will be rendered: a to-one entity shared by many
    parents renders under each, and so do its own expands. Each level adds what it will render to the
    budget before the next level is loaded, so a query that would render too much stops early (#21).
    """
    if times is None:
        times = Counter(r.id for r in rows)
        ctx.budget.plan(len(rows))
    for item in expand:
        nav = et.navs.get(item.path[0])
        if nav is not None and nav.many and rows:
            _prefetch_many(ctx, et, rows, nav, item, times)
            continue
        if nav is None or nav.fk is None or item.options.filter is not None:
            continue
        ids = {getattr(r, nav.fk) for r in rows} - {None}
        if not ids:
            continue
        target = ENTITIES[nav.target]
        children = list(ctx.session.execute(select(target.model).where(target.model.id.in_(ids))).scalars())
        ctx.budget.take(len(children))
        ctx.loaded.extend(children)  # the identity map is weak: keep them for the page's rendering
        child_times: Counter[int] = Counter()
        for r in {r.id: r for r in rows}.values():
            fk = getattr(r, nav.fk)
            if fk is not None:
                child_times[fk] += times[r.id]
        ctx.budget.plan(sum(child_times[c.id] for c in children))
        prefetch(ctx, target, children, item.options.expand, child_times)


def _prefetch_many(
    ctx: Context, et: EntityType, rows: list[Any], nav: Nav, item: ExpandItem, times: Counter[int]
) -> None:
    target = ENTITIES[nav.target]
    opts = item.options
    comp = ctx.compiler
    child = aliased(target.model)
    parent_ids = sorted({r.id for r in rows})
    # The parent id comes from the child's foreign key or the link table, joined explicitly (no cartesian
    # product with a parent alias).
    if nav.link is not None:
        table, ours, theirs = nav.link
        pid: Any = table.c[ours]
        source: Any = select().select_from(table).join(child, child.id == table.c[theirs])
    else:
        assert nav.back_fk is not None
        pid = getattr(child, nav.back_fk)
        source = select().select_from(child)
    conds = [pid.in_(parent_ids)]
    if opts.filter is not None:
        conds.append(comp.condition(opts.filter, target, child))
    order = [*comp.order(opts.orderby, target, child), child.id.asc()]
    top = page_size(opts)
    rank = func.row_number().over(partition_by=pid, order_by=order).label("rn")
    inner = source.add_columns(child, pid.label("pid"), rank).where(*conds).subquery()
    ranked = aliased(target.model, inner)
    stmt = (
        select(ranked, inner.c.pid)
        .where(inner.c.rn > opts.skip, inner.c.rn <= opts.skip + top + 1)
        .order_by(inner.c.pid, inner.c.rn)
        # Never more rows than the budget has left: the pages of all parents together are bounded, not
        # each page alone. The +1 rows per parent (to know more follow) do not count.
        .limit(ctx.budget.left() + len(parent_ids) + 1)
    )
    grouped: dict[int, list[Any]] = {pid_: [] for pid_ in parent_ids}
    for obj, parent_id in ctx.session.execute(stmt).all():
        grouped[parent_id].append(obj)
    ctx.budget.take(sum(min(len(items), top) for items in grouped.values()))
    counts: dict[int, int] = {}
    if opts.count:
        count_stmt = source.add_columns(pid, func.count(child.id)).where(*conds).group_by(pid)
        counts = {parent_id: n for parent_id, n in ctx.session.execute(count_stmt).all()}
    children: list[Any] = []
    child_times: Counter[int] = Counter()
    for parent_id, items in grouped.items():
        page_rows = items[:top]
        ctx.many[(id(item), parent_id)] = (page_rows, len(items) > top, counts.get(parent_id, 0))
        children.extend(page_rows)
        for c in page_rows:
            child_times[c.id] += times[parent_id]
    ctx.budget.plan(sum(child_times.values()))
    ctx.loaded.extend(children)
    if children:
        prefetch(ctx, target, list({c.id: c for c in children}.values()), opts.expand, child_times)

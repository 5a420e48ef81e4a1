"""The public order sector plugin: case categories (hook implementations only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cityops.plugins import hookimpl

if TYPE_CHECKING:
    from cityops.specs import CategorySpec


@hookimpl
def case_categories() -> list[CategorySpec]:
    from cityops.sectors.public_order.specs import CATEGORIES

    return list(CATEGORIES)

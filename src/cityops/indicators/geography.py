"""Which areas an indicator cell covers: today's units and the facts (of any unit, old or new) that count.

A fact keeps the area that was current when it happened. Following lineage (the default successor of each
merge or split), a fact of old Phường 1 (Tân An) counts for today's phường Long An, and for the province
that holds it. Built from two small queries (all units, all lineage links): a few hundred rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.models import Area, AreaLineage
from cityops.specs import AreaGroups


@dataclass
class AreaMap:
    """The units and their links, with the walks roll-ups need."""

    level: dict[int, str] = field(default_factory=dict)
    parent: dict[int, int | None] = field(default_factory=dict)
    current: set[int] = field(default_factory=set)
    successor: dict[int, int] = field(default_factory=dict)  # default lineage link, predecessor -> successor

    @classmethod
    def load(cls, session: Session) -> AreaMap:
        found = cls()
        for area_id, level, parent_id, valid_to in session.execute(
            select(Area.id, Area.level, Area.parent_id, Area.valid_to)
        ):
            found.level[area_id] = level
            found.parent[area_id] = parent_id
            if valid_to is None:
                found.current.add(area_id)
        for pred, succ in session.execute(
            select(AreaLineage.predecessor_id, AreaLineage.successor_id)
            .where(AreaLineage.is_default.is_(True))
            .order_by(AreaLineage.predecessor_id, AreaLineage.successor_id)
        ):
            found.successor.setdefault(pred, succ)
        return found

    def current_of(self, area_id: int) -> int | None:
        """Today's unit a fact of ``area_id`` counts for (itself when current), or None when lineage ends."""
        seen: set[int] = set()
        node: int | None = area_id
        while node is not None and node not in self.current:
            if node in seen:
                return None
            seen.add(node)
            node = self.successor.get(node)
        return node

    def ancestor_at(self, area_id: int, level: str) -> int | None:
        """The unit of ``level`` holding ``area_id`` (itself when it is of that level)."""
        node: int | None = area_id
        for _ in range(8):
            if node is None:
                return None
            if self.level.get(node) == level:
                return node
            node = self.parent.get(node)
        return None

    def targets(self, levels: tuple[str, ...] | list[str]) -> list[int]:
        """Today's units of ``levels`` (the cells an indicator keeps), sorted by id."""
        return sorted(a for a in self.current if self.level.get(a) in levels)

    def _top(self) -> int | None:
        provinces = [a for a in self.current if self.level.get(a) == "province"]
        return provinces[0] if len(provinces) == 1 else None

    def groups(self, targets: list[int]) -> AreaGroups:
        """For each target, the areas whose facts count for it; None for the one province (every fact)."""
        top = self._top()
        wanted = set(targets)
        members: dict[int, set[int]] = {t: set() for t in targets if t != top}
        for area_id in self.level:
            now = self.current_of(area_id)
            if now is None:
                continue
            for holder in (now, self.ancestor_at(now, "district"), self.ancestor_at(now, "province")):
                if holder is not None and holder in wanted and holder != top:
                    members[holder].add(area_id)
        out: dict[int, frozenset[int] | None] = {t: frozenset(m) for t, m in members.items()}
        if top is not None and top in wanted:
            out[top] = None
        return out

    def cells_for(self, area_id: int | None, levels: tuple[str, ...] | list[str]) -> list[int]:
        """The target cells a fact of ``area_id`` (None: unlocated) counts for."""
        found: list[int] = []
        top = self._top()
        if area_id is not None:
            now = self.current_of(area_id)
            if now is not None:
                for level in levels:
                    holder = self.ancestor_at(now, level)
                    if holder is not None and holder not in found:
                        found.append(holder)
        if top is not None and "province" in levels and top not in found:
            found.append(top)
        return found

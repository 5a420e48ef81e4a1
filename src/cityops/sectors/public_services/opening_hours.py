"""Is a place open now? A small reading of OpenStreetMap ``opening_hours`` as the sectors' data write it.

Understood: rules separated by ``;``, each ``[days] times``: days ``Mo``–``Su`` as ranges and lists
(``Mo-Fr``, ``Mo,We,Fr``, ``Tu-Su``; omitted: every day), times ``HH:MM-HH:MM`` separated by commas (an end
before the start runs past midnight), ``off``, and ``24/7`` (also at the end of a rule with a note, such as
``cấp cứu 24/7``: the place takes emergencies at any hour). A later rule naming a day replaces the earlier
ones for that day, as in OSM. Anything else makes the rule unknown and it is skipped; with no rule
understood the answer is None (unknown), never a guess.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

DAYS = ("mo", "tu", "we", "th", "fr", "sa", "su")
_DAYSPEC = re.compile(
    r"^(?:mo|tu|we|th|fr|sa|su)(?:-(?:mo|tu|we|th|fr|sa|su))?(?:,(?:mo|tu|we|th|fr|sa|su)(?:-(?:mo|tu|we|th|fr|sa|su))?)*$"
)
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")

Interval = tuple[int, int]  # minutes from the day's midnight; end may exceed 1440 (past midnight)


def _days(spec: str) -> list[int] | None:
    if not _DAYSPEC.match(spec):
        return None
    out: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        a = DAYS.index(first)
        b = DAYS.index(last) if last else a
        out.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return out


def _spans(text: str) -> list[Interval] | None:
    if text == "off":
        return []
    out: list[Interval] = []
    for part in text.split(","):
        m = _SPAN.match(part.strip())
        if not m:
            return None
        start = int(m.group(1)) * 60 + int(m.group(2))
        end = int(m.group(3)) * 60 + int(m.group(4))
        if start >= 24 * 60 or end > 24 * 60 or int(m.group(2)) > 59 or int(m.group(4)) > 59:
            return None
        out.append((start, end if end > start else end + 24 * 60))
    return out


def parse(text: str) -> dict[int, list[Interval]] | None:
    """Weekday (0 = Monday) → intervals; None when no rule is understood."""
    week: dict[int, list[Interval]] = {}
    understood = False
    for raw in text.split(";"):
        rule = raw.strip().lower()
        if not rule:
            continue
        if rule == "24/7" or rule.endswith(" 24/7"):
            week = {d: [(0, 24 * 60)] for d in range(7)}
            understood = True
            continue
        head, _, rest = rule.partition(" ")
        days = _days(head)
        spans = _spans(rest.strip()) if days is not None else _spans(rule)
        if spans is None:
            continue
        for day in days if days is not None else range(7):
            week[day] = list(spans)
        understood = True
    return week if understood else None


def is_open(text: str | None, local: datetime) -> bool | None:
    """Open at the local (Asia/Ho_Chi_Minh) time ``local``? None when the hours are missing or not understood."""
    if not text:
        return None
    week = parse(text)
    if week is None:
        return None
    minute = local.hour * 60 + local.minute
    if any(s <= minute < e for s, e in week.get(local.weekday(), [])):
        return True
    yesterday = (local - timedelta(days=1)).weekday()
    return any(e > 24 * 60 and minute < e - 24 * 60 for _s, e in week.get(yesterday, []))

"""The crop calendar: the seasons (vụ) of the year as data (``data/seasons.json``).

Rice is grown in three seasons in the Vàm Cỏ lowlands — Đông Xuân (winter–spring, the dry-season crop that
salinity threatens most), Hè Thu (summer–autumn) and Thu Đông (autumn–winter). A season is a day-of-year
range ``MM-DD`` … ``MM-DD`` (inclusive, may wrap over the new year) with the crops it concerns; crops not
listed in any season (fruit trees, vegetables, aquaculture) are in the field all year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cityops.sectors.tables import read_table


@dataclass(frozen=True, slots=True)
class Season:
    code: str
    name_vi: str
    name_en: str
    start: str  # MM-DD
    end: str  # MM-DD, inclusive
    crops: tuple[str, ...]
    source: str

    def contains(self, day: date) -> bool:
        md = day.strftime("%m-%d")
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end  # over the new year


def seasons(rows: list[dict[str, object]] | None = None) -> list[Season]:
    out = []
    for row in rows if rows is not None else read_table("cityops.sectors.agriculture", "seasons.json"):
        fields = dict(row)
        fields["crops"] = tuple(fields.get("crops") or ())
        season = Season(**fields)
        for md in (season.start, season.end):
            date.fromisoformat(f"2024-{md}")  # a leap year: 02-29 is valid; a bad date raises ValueError
        out.append(season)
    return out


SEASONS: list[Season] = seasons()


def season_of(crop: str, day: date, calendar: list[Season] | None = None) -> Season | None:
    """The season of ``crop`` on ``day``; None when the crop has seasons but none holds the day, or has none."""
    for season in calendar if calendar is not None else SEASONS:
        if crop in season.crops and season.contains(day):
            return season
    return None


def seasonal(crop: str, calendar: list[Season] | None = None) -> bool:
    """Whether the crop follows the calendar (else it is in the field all year)."""
    return any(crop in s.crops for s in (calendar if calendar is not None else SEASONS))

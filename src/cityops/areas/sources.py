"""Source data for administrative units: the MIT-licensed ``vietnamadminunits`` package, read offline.

The package ships (under ``vietnamadminunits/data/``):

* ``dataset.db`` (SQLite): ``admin_units`` — the 34-province units in force since 1 July 2025 (province → ward,
  with statistics-office codes, a representative point and the area in km²); ``admin_units_legacy`` — the
  63-province units before that day (province → district → ward, with codes, points and a geocoder bounding
  box per unit).
* ``converter_2025.json``: for each new province, the legacy provinces it absorbed (``DICT_PROVINCE``), and for
  each legacy ward its successor(s): ``DICT_PROVINCE_WARD_NO_DIVIDED`` (new ward → the legacy wards merged into
  it) and ``DICT_PROVINCE_WARD_DIVIDED`` (legacy ward → the new wards it was split between, one flagged as the
  default successor).

Statistics-office codes are not keys: new Tây Ninh has code 80, old Long An's code, and ward codes were reused
(phường Long An = 27694 = old Phường 1, Tân An). A unit is therefore identified here by a ``key`` built from the
package's name keys and the period (``2025:`` or ``legacy:``), and in the database by (code, level, valid_from).

Nothing is downloaded: files are located with :mod:`importlib.resources`.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

REFORM_2025 = date(2025, 7, 1)
"""Day the 34-province map took effect (Resolution 202/2025/QH15) and districts were abolished."""

PROVINCE = "province"
DISTRICT = "district"
COMMUNE = "commune"
LEVELS = (PROVINCE, DISTRICT, COMMUNE)

DEFAULT_PROVINCE_KEY = "tinhtayninh"
"""The pilot province: current Tây Ninh (absorbed Long An)."""

_PACKAGE = "vietnamadminunits"

# Kinds (unit types), longest first so "Thành phố" wins over shorter prefixes.
_KINDS = ("Thành phố", "Thị trấn", "Thị xã", "Phường", "Huyện", "Quận", "Tỉnh", "Xã", "Đặc khu")


class SourceError(RuntimeError):
    """The installed vietnamadminunits data is missing or not shaped as expected."""


@dataclass(frozen=True)
class SourceUnit:
    key: str  # stable source key, e.g. "legacy:tinhlongan_thanhphotanan_phuong1"
    code: str
    level: str
    kind: str
    name: str
    parent_key: str | None
    lat: float | None
    lon: float | None
    area_km2: float | None
    bounds: tuple[float, float, float, float] | None  # (min_lon, min_lat, max_lon, max_lat), geocoder box
    valid_from: date | None
    valid_to: date | None


@dataclass(frozen=True)
class SourceLink:
    predecessor_key: str
    successor_key: str
    relation: str  # merged | split | renamed
    is_default: bool


@dataclass(frozen=True)
class ProvinceDataset:
    """The current province, the legacy provinces it absorbed, their units and the lineage between them."""

    province_key: str
    units: tuple[SourceUnit, ...]
    links: tuple[SourceLink, ...]

    def by_level(self, level: str, *, current: bool) -> list[SourceUnit]:
        return [u for u in self.units if u.level == level and (u.valid_to is None) is current]


def data_path(name: str) -> Path:
    """Path of one of the package's data files (``dataset.db``, ``converter_2025.json``)."""
    try:
        ref = resources.files(_PACKAGE).joinpath("data", name)
    except ModuleNotFoundError as exc:  # pragma: no cover - it is a declared dependency
        raise SourceError("the vietnamadminunits package is not installed") from exc
    path = Path(str(ref))
    if not path.is_file():
        raise SourceError(f"vietnamadminunits data file {name!r} not found at {path}")
    return path


@contextmanager
def _dataset() -> Iterator[sqlite3.Connection]:
    # Read-only, so an installed (root-owned) site-packages is never written to.
    conn = sqlite3.connect(f"file:{data_path('dataset.db')}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    finally:
        conn.close()


@cache
def converter() -> dict[str, Any]:
    with data_path("converter_2025.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def kind_of(name: str) -> str:
    """The unit type that prefixes an official name: ``Phường Long An`` → ``Phường``."""
    for kind in _KINDS:
        if name.startswith(kind + " "):
            return kind
    return ""


def parse_bounds(text: str | None) -> tuple[float, float, float, float] | None:
    """``"lat1,lon1 – lat2,lon2"`` → ``(min_lon, min_lat, max_lon, max_lat)``; None when absent or malformed."""
    if not text:
        return None
    try:
        first, second = (part.strip() for part in text.replace("—", "–").split("–"))
        lat1, lon1 = (float(v) for v in first.split(","))
        lat2, lon2 = (float(v) for v in second.split(","))
    except ValueError:
        return None
    return (min(lon1, lon2), min(lat1, lat2), max(lon1, lon2), max(lat1, lat2))


def _code(value: Any) -> str:
    return str(value).strip()


@cache
def province_dataset(province_key: str = DEFAULT_PROVINCE_KEY) -> ProvinceDataset:
    """Read one current province (by the package's key, e.g. ``tinhtayninh``) and its legacy predecessors."""
    conv = converter()
    legacy_keys: list[str] = list(conv["DICT_PROVINCE"].get(province_key, []))
    if not legacy_keys:
        raise SourceError(f"unknown province key {province_key!r} in converter_2025.json")

    units: list[SourceUnit] = []
    with _dataset() as db:
        current = db.execute(
            "SELECT * FROM admin_units WHERE provinceKey = ? ORDER BY wardCode", (province_key,)
        ).fetchall()
        if not current:
            raise SourceError(f"no current units for {province_key!r} in dataset.db")
        first = current[0]
        prov_key = f"2025:{province_key}"
        units.append(
            SourceUnit(
                key=prov_key,
                code=_code(first["provinceCode"]),
                level=PROVINCE,
                kind=kind_of(first["province"]),
                name=first["province"],
                parent_key=None,
                lat=first["provinceLat"],
                lon=first["provinceLon"],
                area_km2=None,
                bounds=None,
                valid_from=REFORM_2025,
                valid_to=None,
            )
        )
        for row in current:
            units.append(
                SourceUnit(
                    key=f"2025:{province_key}_{row['wardKey']}",
                    code=_code(row["wardCode"]),
                    level=COMMUNE,
                    kind=row["wardType"] or kind_of(row["ward"]),
                    name=row["ward"],
                    parent_key=prov_key,
                    lat=row["wardLat"],
                    lon=row["wardLon"],
                    area_km2=row["wardAreaKm2"],
                    bounds=None,
                    valid_from=REFORM_2025,
                    valid_to=None,
                )
            )

        placeholders = ",".join("?" for _ in legacy_keys)
        legacy = db.execute(
            f"SELECT * FROM admin_units_legacy WHERE provinceKey IN ({placeholders}) "
            "ORDER BY provinceCode, districtCode, wardCode",
            legacy_keys,
        ).fetchall()
    seen: set[str] = set()
    for row in legacy:
        p_key = f"legacy:{row['provinceKey']}"
        d_key = f"legacy:{row['provinceKey']}_{row['districtKey']}"
        w_key = f"legacy:{row['provinceKey']}_{row['districtKey']}_{row['wardKey']}"
        if p_key not in seen:
            seen.add(p_key)
            units.append(
                SourceUnit(
                    key=p_key,
                    code=_code(row["provinceCode"]),
                    level=PROVINCE,
                    kind=kind_of(row["province"]),
                    name=row["province"],
                    parent_key=None,
                    lat=row["provinceLat"],
                    lon=row["provinceLon"],
                    area_km2=None,
                    bounds=parse_bounds(row["provinceBounds"]),
                    valid_from=None,
                    valid_to=REFORM_2025,
                )
            )
        if d_key not in seen:
            seen.add(d_key)
            units.append(
                SourceUnit(
                    key=d_key,
                    code=_code(row["districtCode"]),
                    level=DISTRICT,
                    kind=row["districtType"] or kind_of(row["district"]),
                    name=row["district"],
                    parent_key=p_key,
                    lat=row["districtLat"],
                    lon=row["districtLon"],
                    area_km2=None,
                    bounds=parse_bounds(row["districtBounds"]),
                    valid_from=None,
                    valid_to=REFORM_2025,
                )
            )
        units.append(
            SourceUnit(
                key=w_key,
                code=_code(row["wardCode"]),
                level=COMMUNE,
                kind=row["wardType"] or kind_of(row["ward"]),
                name=row["ward"],
                parent_key=d_key,
                lat=row["wardLat"],
                lon=row["wardLon"],
                area_km2=None,
                bounds=parse_bounds(row["wardBounds"]),
                valid_from=None,
                valid_to=REFORM_2025,
            )
        )

    links = _lineage(province_key, legacy_keys, units)
    return ProvinceDataset(province_key=province_key, units=tuple(units), links=tuple(links))


MAX_SPLIT_DISTANCE_KM = 50.0
"""A split successor farther than this from the legacy commune is a key collision in the converter, not a split.

``converter_2025.json`` links Phường 4 of Tân An to phường Tân Ninh (93 km away) and Phường 4 of Tây Ninh city to
phường Long An (89 km away): both legacy wards share the key ``phuong4``. Such non-default links are dropped.
"""


def _far(source: SourceUnit | None, target: dict[str, Any]) -> bool:
    if source is None or source.lat is None or source.lon is None:
        return False
    lat, lon = target.get("newWardLat"), target.get("newWardLon")
    if lat is None or lon is None:
        return False
    dy = (float(lat) - source.lat) * 111.32
    dx = (float(lon) - source.lon) * 111.32 * math.cos(math.radians(source.lat))
    return math.hypot(dx, dy) > MAX_SPLIT_DISTANCE_KM


def _lineage(province_key: str, legacy_keys: list[str], units: list[SourceUnit]) -> list[SourceLink]:
    conv = converter()
    known = {u.key for u in units}
    links: list[SourceLink] = [
        SourceLink(f"legacy:{old}", f"2025:{province_key}", "merged", True) for old in legacy_keys
    ]
    merged: dict[str, list[str]] = conv["DICT_PROVINCE_WARD_NO_DIVIDED"].get(province_key, {})
    divided: dict[str, list[dict[str, Any]]] = conv["DICT_PROVINCE_WARD_DIVIDED"].get(province_key, {})
    # How many legacy wards flow into each new ward (1 and not divided → a rename / continuation).
    inflow: dict[str, int] = {new: len(olds) for new, olds in merged.items()}
    for targets in divided.values():
        for target in targets:
            inflow[target["newWardKey"]] = inflow.get(target["newWardKey"], 0) + 1
    for new_ward, olds in merged.items():
        for old in olds:
            relation = "renamed" if inflow[new_ward] == 1 else "merged"
            links.append(SourceLink(f"legacy:{old}", f"2025:{province_key}_{new_ward}", relation, True))
    by_key = {u.key: u for u in units}
    for old, targets in divided.items():
        source = by_key.get(f"legacy:{old}")
        kept = [t for t in targets if t.get("isDefaultNewWard") or not _far(source, t)] or targets
        for target in kept:
            links.append(
                SourceLink(
                    f"legacy:{old}",
                    f"2025:{province_key}_{target['newWardKey']}",
                    "split" if len(kept) > 1 else "merged",
                    bool(target.get("isDefaultNewWard")) or len(kept) == 1,
                )
            )
    missing = {k for link in links for k in (link.predecessor_key, link.successor_key)} - known
    if missing:
        raise SourceError(f"converter_2025.json names units absent from dataset.db: {sorted(missing)[:5]}")
    return links


@cache
def neighbour_points(
    province_key: str, bounds: tuple[float, float, float, float], *, current: bool
) -> tuple[tuple[float, float], ...]:
    """(lon, lat) of other provinces' communes within ``bounds`` — current (2025) or legacy ones.

    Used to shape the approximate border: a point nearer to a neighbour's commune than to any of ours is not ours.
    """
    min_lon, min_lat, max_lon, max_lat = bounds
    conv = converter()
    with _dataset() as db:
        if current:
            rows = db.execute(
                "SELECT wardLon, wardLat FROM admin_units WHERE provinceKey <> ? "
                "AND wardLon BETWEEN ? AND ? AND wardLat BETWEEN ? AND ?",
                (province_key, min_lon, max_lon, min_lat, max_lat),
            ).fetchall()
        else:
            own: list[str] = list(conv["DICT_PROVINCE"].get(province_key, []))
            placeholders = ",".join("?" for _ in own)
            rows = db.execute(
                f"SELECT wardLon, wardLat FROM admin_units_legacy WHERE provinceKey NOT IN ({placeholders}) "
                "AND wardLon BETWEEN ? AND ? AND wardLat BETWEEN ? AND ?",
                (*own, min_lon, max_lon, min_lat, max_lat),
            ).fetchall()
    return tuple((float(lon), float(lat)) for lon, lat in rows if lon is not None and lat is not None)

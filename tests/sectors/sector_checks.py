"""Checks every sector's tests share: its declarations come from its own plugin, its demo GeoJSON is sound.

A sector's test names its plugin, the codes it declares and its data folder; these helpers do the rest, so
the checks are the same for every sector (as Home Assistant's integration tests are).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.plugins import declarations
from cityops.specs import CategorySpec, PlaceTypeSpec
from cityops.text import nfc

#: The pilot area (Tân An, Long An, Khánh Hậu) with a margin: demo places must lie in it.
PILOT_BOUNDS = (106.36, 10.50, 106.44, 10.57)  # min lon, min lat, max lon, max lat
DEMO_SOURCE_NOTE = "demo data, approximate positions"
#: Feature properties that are the place's own fields, not attributes of its type.
PLACE_FIELDS = {"external_id", "name", "status", "demo", "source"}


def declared_by(hook: str, spec_type: type[Any], plugin: str) -> list[str]:
    """The codes ``plugin`` declares through ``hook``, in its order."""
    return [spec.code for name, spec in declarations(hook, spec_type) if name == plugin]


def assert_categories(plugin: str, codes: list[str]) -> None:
    """The sector declares exactly these case categories, each tagged with a sector and one-language texts."""
    assert declared_by("case_categories", CategorySpec, plugin) == codes
    for name, spec in declarations("case_categories", CategorySpec):
        if name != plugin:
            continue
        assert spec.sector == plugin.split(".")[-2]
        for question in spec.questions:
            assert " / " not in question.label, question.label  # one language per label (#14)
            assert question.label_en, question.code
            assert [k for k, _ in question.values] == [k for k, _ in question.values_en]


def assert_place_types(plugin: str, codes: list[str]) -> None:
    """The sector declares exactly these place types, tagged with its sector, with consistent statuses."""
    assert declared_by("place_types", PlaceTypeSpec, plugin) == codes
    for name, spec in declarations("place_types", PlaceTypeSpec):
        if name != plugin:
            continue
        assert spec.sector == plugin.split(".")[-2]
        assert spec.icon not in ("", "place")  # a sector's own icon, not the generic pin
        status_codes = [s.code for s in spec.statuses]
        assert spec.default_status in [*status_codes, ""]
        assert len({a.code for a in spec.attributes}) == len(spec.attributes)
        assert not {a.code for a in spec.attributes} & PLACE_FIELDS


def demo_features(data_dir: Path, spec: PlaceTypeSpec) -> list[dict[str, Any]]:
    """The demo features of one place type, after checking the file is a FeatureCollection."""
    body = orjson.loads((data_dir / f"demo_{spec.code}.geojson").read_bytes())
    assert body["type"] == "FeatureCollection"
    features: list[dict[str, Any]] = body["features"]
    assert features
    return features


def check_demo_file(data_dir: Path, spec: PlaceTypeSpec) -> None:
    """Every demo feature is marked as demo, lies in the pilot area and validates against the type."""
    from cityops.places.attributes import validate_attributes

    min_lon, min_lat, max_lon, max_lat = PILOT_BOUNDS
    seen: set[str] = set()
    for feature in demo_features(data_dir, spec):
        props = feature["properties"]
        assert props["demo"] is True
        assert props["source"] == DEMO_SOURCE_NOTE
        assert props["external_id"] not in seen
        seen.add(props["external_id"])
        assert props["name"]
        assert props["name"] == nfc(props["name"])
        geometry = feature["geometry"]
        assert geometry["type"] in spec.geometry
        lon, lat = geometry["coordinates"]
        assert min_lon <= lon <= max_lon, props["name"]
        assert min_lat <= lat <= max_lat, props["name"]
        if spec.statuses:
            assert props["status"] in {s.code for s in spec.statuses}
        else:
            assert "status" not in props
        attributes = {k: v for k, v in props.items() if k not in PLACE_FIELDS}
        assert validate_attributes(spec.attributes, attributes) == attributes


def assert_demo_loads_once(
    session: Session,
    load: Callable[[Session, Console], None],
    data_dir: Path,
    specs: tuple[PlaceTypeSpec, ...],
) -> None:
    """The sector's demo creates one demo place per feature, and loading it again changes nothing."""
    from cityops.places.models import Place

    def counts() -> dict[str, int]:
        rows = session.execute(
            select(Place.type_code, func.count()).where(Place.demo.is_(True)).group_by(Place.type_code)
        )
        return {code: n for code, n in rows}

    console = Console(record=True, width=200)
    load(session, console)
    session.commit()
    expected = {spec.code: len(demo_features(data_dir, spec)) for spec in specs}
    assert counts() == expected
    first = console.export_text()
    assert "rejected" in first
    assert all(f"{n} were created, 0 updated, 0 unchanged, 0 rejected" in first for n in expected.values())
    load(session, console)
    session.commit()
    assert counts() == expected
    again = console.export_text()
    assert all(f"0 were created, 0 updated, {n} unchanged, 0 rejected" in again for n in expected.values())
    names = set(session.scalars(select(Place.name).where(Place.demo.is_(True))))
    assert names == {f["properties"]["name"] for spec in specs for f in demo_features(data_dir, spec)}

"""Importing official boundaries: VN-2000 reprojection, validation, all-or-nothing."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pyproj import CRS, Transformer
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas import lookup
from cityops.areas.boundaries import (
    VN2000_TM3_EPSG,
    BoundaryImportError,
    declared_crs,
    import_boundaries,
)
from cityops.areas.models import Area
from cityops.areas.service import load_areas
from tests.fixtures_areas import LoadedAreas

# A point in the west of Tân An that the approximate cells give to phường Khánh Hậu or Long An.
POINT = (10.5355, 106.4136)


def _square(lat: float, lon: float, d: float) -> list[tuple[float, float]]:
    return [
        (lon - d, lat - d),
        (lon + d, lat - d),
        (lon + d, lat + d),
        (lon - d, lat + d),
        (lon - d, lat - d),
    ]


def _vn2000_feature(
    epsg: int, props: dict[str, Any], ring_lonlat: list[tuple[float, float]]
) -> dict[str, Any]:
    to_vn = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_epsg(epsg), always_xy=True)
    ring = [list(to_vn.transform(lon, lat)) for lon, lat in ring_lonlat]
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _collection(features: list[dict[str, Any]], epsg: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if epsg is not None:
        data["crs"] = {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{epsg}"}}
    return data


def _snapshot(session: Session) -> list[tuple[Any, ...]]:
    session.expire_all()
    return [
        tuple(r)
        for r in session.execute(
            select(Area.id, Area.geometry, Area.geometry_approximate, Area.geometry_source).order_by(Area.id)
        )
    ]


def test_vn2000_tm3_zones_are_the_documented_epsg_codes() -> None:
    for code in VN2000_TM3_EPSG:
        assert CRS.from_epsg(code).name.startswith("VN-2000 / TM-3"), code
    assert CRS.from_epsg(9210).name == "VN-2000 / TM-3 105-45"  # Long An's zone
    assert CRS.from_epsg(9209).name == "VN-2000 / TM-3 105-30"  # Tây Ninh's zone


def test_import_in_epsg_9210_replaces_the_geometry_and_changes_the_lookup(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    lat, lon = POINT
    # With the approximate cells the point falls in phường Long An (nearest ward centroid).
    before = lookup.find_area(session, lat, lon)
    assert before is not None
    assert before.id == loaded_areas.long_an_ward_id
    tan_an = session.get(Area, loaded_areas.tan_an_ward_id)
    long_an = session.get(Area, loaded_areas.long_an_ward_id)
    assert tan_an is not None
    assert long_an is not None
    assert long_an.lat is not None
    assert long_an.lon is not None
    # An "official" file in VN-2000 / TM-3 105-45 that gives the point to phường Tân An.
    features = [
        _vn2000_feature(9210, {"ma_xa": tan_an.code, "ten_xa": tan_an.name}, _square(lat, lon, 0.005)),
        _vn2000_feature(9210, {"ma_xa": long_an.code}, _square(long_an.lat, long_an.lon, 0.005)),
    ]
    data = _collection(features, 9210)
    assert declared_crs(data) == "urn:ogc:def:crs:EPSG::9210"
    result = import_boundaries(session, data, source="tayninh-2025.geojson")
    session.commit()

    assert sorted(r[0] for r in result.updated) == sorted([tan_an.id, long_an.id])
    session.refresh(tan_an)
    assert tan_an.geometry_approximate is False
    assert tan_an.geometry_source == "tayninh-2025.geojson"
    assert tan_an.geometry is not None
    # Reprojected back to WGS 84 within a few centimetres.
    assert shape(tan_an.geometry).bounds == pytest.approx(
        (lon - 0.005, lat - 0.005, lon + 0.005, lat + 0.005), abs=1e-6
    )
    after = lookup.find_area(session, lat, lon)
    assert after is not None
    assert after.id == tan_an.id
    at_long_an = lookup.find_area(session, long_an.lat, long_an.lon)
    assert at_long_an is not None
    assert at_long_an.id == long_an.id
    # Legacy units keep their own cells: the 2024 answer is unchanged.
    old = lookup.find_area(session, lat, lon, at=date(2024, 1, 1))
    assert old is not None
    assert old.valid_to == date(2025, 7, 1)
    # The province is recomputed from its children and stays approximate (94 children still are).
    province = session.get(Area, loaded_areas.province_id)
    assert province is not None
    assert province.geometry_approximate is True
    assert province.geometry_source == "union of children (part approximate)"
    # Reloading the demo data keeps the official boundaries and the recomputed province.
    again = load_areas(session)
    session.commit()
    assert not again.changed
    session.refresh(tan_an)
    assert tan_an.geometry_source == "tayninh-2025.geojson"
    assert tan_an.geometry_approximate is False


def test_crs_option_overrides_and_wgs84_is_the_default(session: Session, loaded_areas: LoadedAreas) -> None:
    lat, lon = POINT
    ward = session.get(Area, loaded_areas.khanh_hau_ward_id)
    assert ward is not None
    plain = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Khánh Hậu"},
                "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in _square(lat, lon, 0.002)]]},
            }
        ],
    }
    result = import_boundaries(session, plain, source="khanh-hau.geojson", match="name")
    assert result.crs == "OGC:CRS84"
    assert [r[0] for r in result.updated] == [ward.id]
    # The same ring in EPSG:9209 (Tây Ninh's zone) without a crs member, told with crs=.
    vn = _collection([_vn2000_feature(9209, {"code": int(ward.code)}, _square(lat, lon, 0.003))], None)
    result = import_boundaries(session, vn, source="kh.geojson", crs="EPSG:9209")
    session.commit()
    assert result.crs == "EPSG:9209"
    session.refresh(ward)
    assert ward.geometry is not None
    assert shape(ward.geometry).bounds == pytest.approx(
        (lon - 0.003, lat - 0.003, lon + 0.003, lat + 0.003), abs=1e-6
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda fc: fc["features"][1].update(geometry={"type": "Point", "coordinates": [106.4, 10.5]}),
            "Polygon",
        ),
        (
            lambda fc: fc["features"][1]["geometry"].update(
                coordinates=[
                    [[106.40, 10.50], [106.42, 10.52], [106.42, 10.50], [106.40, 10.52], [106.40, 10.50]]
                ]
            ),
            "invalid geometry",
        ),
        (lambda fc: fc["features"][1]["properties"].update(code="99999"), "matches no area"),
        (
            lambda fc: fc["features"][1]["properties"].update(code=fc["features"][0]["properties"]["code"]),
            "already",
        ),
        (lambda fc: fc.update(crs={"type": "name", "properties": {"name": "EPSG:3857"}}), "outside Vietnam"),
        (
            lambda fc: fc.update(crs={"type": "name", "properties": {"name": "EPSG:999999"}}),
            "Unknown coordinate",
        ),
        (lambda fc: fc.update(features=[]), "no features"),
    ],
)
def test_invalid_import_changes_nothing(
    session: Session, loaded_areas: LoadedAreas, mutate: Any, message: str
) -> None:
    lat, lon = POINT
    tan_an = session.get(Area, loaded_areas.tan_an_ward_id)
    long_an = session.get(Area, loaded_areas.long_an_ward_id)
    assert tan_an is not None
    assert long_an is not None
    good = [
        {
            "type": "Feature",
            "properties": {"code": tan_an.code},
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in _square(lat, lon, 0.01)]]},
        },
        {
            "type": "Feature",
            "properties": {"code": long_an.code},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[list(p) for p in _square(lat + 0.05, lon, 0.01)]],
            },
        },
    ]
    data: dict[str, Any] = {"type": "FeatureCollection", "features": good}
    mutate(data)
    before = _snapshot(session)
    with pytest.raises(BoundaryImportError) as info:
        import_boundaries(session, data, source="bad.geojson")
    session.commit()
    assert message in str(info.value)
    assert _snapshot(session) == before


def test_code_matching_uses_units_valid_on_the_date(session: Session, loaded_areas: LoadedAreas) -> None:
    # 27694 is both phường Long An (now) and old Phường 1 (before 2025): the date decides.
    lat, lon = POINT
    feature = {
        "type": "Feature",
        "properties": {"code": "27694"},
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in _square(lat, lon, 0.004)]]},
    }
    data = {"type": "FeatureCollection", "features": [feature]}
    result = import_boundaries(session, data, source="old.geojson", at=date(2024, 1, 1))
    assert [r[0] for r in result.updated] == [loaded_areas.old_phuong_1_id]
    result = import_boundaries(session, data, source="new.geojson")
    assert [r[0] for r in result.updated] == [loaded_areas.long_an_ward_id]

"""A place's area is a real foreign key, resolved from its point and resolved again when boundaries change
(areas call the ``areas_changed`` hook; they import nothing of places)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas.boundaries import import_boundaries
from cityops.areas.models import Area
from cityops.audit.models import AuditEntry
from cityops.places.models import Place
from tests.fixtures_areas import LoadedAreas


def _square(lon: float, lat: float, half: float) -> dict[str, Any]:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def test_boundary_import_reresolves_places(
    session: Session, loaded_areas: LoadedAreas, make_place: Callable[..., dict[str, Any]]
) -> None:
    place = make_place()
    assert place["area"]["id"] == loaded_areas.long_an_ward_id
    khanh_hau = session.get(Area, loaded_areas.khanh_hau_ward_id)
    long_an = session.get(Area, loaded_areas.long_an_ward_id)
    assert khanh_hau is not None
    assert long_an is not None
    # an "official" Khánh Hậu boundary that now takes in the place, and a Long An one that leaves it out
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": khanh_hau.code},
                "geometry": _square(106.41, 10.535, 0.002),
            },
            {
                "type": "Feature",
                "properties": {"code": long_an.code},
                "geometry": _square(106.43, 10.55, 0.005),
            },
        ],
    }
    import_boundaries(session, data, source="test.geojson", level="commune")
    session.commit()
    stored = session.get(Place, place["id"])
    assert stored is not None
    assert stored.area_id == loaded_areas.khanh_hau_ward_id
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "place.reresolve_areas")).one()
    assert entry.after is not None
    assert entry.after["moved"] == 1

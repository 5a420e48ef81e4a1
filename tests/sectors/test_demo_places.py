"""The sectors' demo places together: on the pilot's loaded wards, each lies in the ward its name says."""

from __future__ import annotations

import importlib

from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.places.models import Place
from cityops.settings import Settings
from tests.fixtures_areas import LoadedAreas

SECTORS = ("agriculture", "health", "education", "tourism", "public_services")
# A name that says its ward (the city's older names, "Chợ Tân An", name the former city, not a ward).
NAMED_WARDS = {
    "Khánh Hậu": "Phường Khánh Hậu",
    "phường Tân An": "Phường Tân An",
    "phường Long An": "Phường Long An",
}


def test_demo_places_lie_in_the_pilot_wards_they_name(
    session: Session, settings: Settings, loaded_areas: LoadedAreas
) -> None:
    for sector in SECTORS:
        importlib.import_module(f"cityops.sectors.{sector}.plugin").load_demo(
            session=session, settings=settings, console=Console(quiet=True)
        )
    session.commit()
    pilot = {loaded_areas.long_an_ward_id, loaded_areas.tan_an_ward_id, loaded_areas.khanh_hau_ward_id}
    rows = session.execute(
        select(Place.name, Place.area_id, Area.name).join(Area, Area.id == Place.area_id)
    ).all()
    assert len(rows) == session.scalar(select(func.count()).select_from(Place))
    assert {area_id for _, area_id, _ in rows} == pilot
    checked = 0
    for name, _, ward in rows:
        for needle, want in NAMED_WARDS.items():
            if needle in name:
                assert ward == want, name
                checked += 1
    assert checked >= 8

"""Routing on the real Tây Ninh units (the areas capability's loaded data): the current ward is found,
and an agency holding the *current* ward gets the case; old (pre-2025) units are not used for new cases."""

from __future__ import annotations

from sqlalchemy.orm import Session

from cityops.areas.models import Area
from cityops.identity.models import Agency, AgencyJurisdiction
from cityops.identity.policy import Principal
from cityops.reports.access import Actor
from cityops.reports.categories import sync_categories
from cityops.reports.intake import Submission, submit
from cityops.settings import Settings
from tests.fixtures_areas import LoadedAreas
from tests.reports.conftest import MONDAY_9


def test_report_in_phuong_long_an_routes_to_its_committee(
    session: Session, settings: Settings, loaded_areas: LoadedAreas
) -> None:
    sync_categories(session)
    ward = session.get(Area, loaded_areas.long_an_ward_id)
    assert ward is not None
    assert ward.lat is not None
    assert ward.lon is not None
    agency = Agency(code="ubnd-long-an", name="UBND phường Long An", name_key="ubnd phuong long an")
    session.add(agency)
    session.flush()
    session.add(AgencyJurisdiction(agency_id=agency.id, area_id=ward.id, category_code=None))
    # a jurisdiction on the legacy unit with the same code must not capture new cases
    legacy = Agency(code="ubnd-phuong-1-cu", name="UBND Phường 1 (cũ)", name_key="ubnd phuong 1 cu")
    session.add(legacy)
    session.flush()
    session.add(
        AgencyJurisdiction(agency_id=legacy.id, area_id=loaded_areas.old_phuong_1_id, category_code=None)
    )
    session.commit()
    case = submit(
        session,
        settings,
        Actor(Principal.anonymous()),
        Submission(category_code="lighting", lat=ward.lat, lon=ward.lon, description="Đèn hỏng"),
        now=MONDAY_9,
    ).case
    session.commit()
    assert case.area_id == ward.id
    assert case.agency_id == agency.id

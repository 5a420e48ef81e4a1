"""A health department register as CSV (Vietnamese headers as exported from a spreadsheet): facilities with beds,
hours and phone become places; a bad row is rejected with its reason; importing again changes nothing."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.places.importer import import_features
from cityops.places.models import Place
from cityops.places.types import sync_place_types

CSV = (
    "\ufeffma;ten;vi_do;kinh_do;beds;opening_hours;phone;emergency\n"
    "TYT-01;Trạm Y tế phường Tân An;10,522;106,408;5;Mo-Fr 07:00-17:00;0272 3826 111;không\n"
    "TYT-02;Trạm Y tế phường Long An;10,539;106,414;-3;Mo-Fr 07:00-17:00;0272 3826 222;không\n"
)


def test_csv_register_of_health_stations(session: Session) -> None:
    sync_place_types(session)
    report = import_features(session, CSV.encode(), "health_station", source_name="so-yt-2026")
    session.commit()
    assert (len(report.created), len(report.rejected)) == (1, 1)
    assert "beds" in str(report.rejected[0])
    place = session.scalars(select(Place).where(Place.external_id == "TYT-01")).one()
    assert place.attributes["beds"] == 5
    assert place.attributes["emergency"] is False
    assert place.attributes["phone"].startswith("+84")
    assert (place.lat, place.lon) == (10.522, 106.408)
    again = import_features(session, CSV.encode(), "health_station", source_name="so-yt-2026")
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 1)
    assert len(again.rejected) == 1

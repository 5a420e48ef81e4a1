"""Point → area lookup (current and historical), lineage and search."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.areas import lookup
from cityops.areas.lineage import default_successor, direct_successors, successors_of
from cityops.areas.models import Area
from cityops.areas.service import ancestors, list_areas
from cityops.clock import utcnow
from tests.fixtures_areas import LoadedAreas

CENTRAL_TAN_AN = (10.5355, 106.4136)
CAN_THO = (10.0341, 105.7880)  # outside the province
HA_NOI = (21.0285, 105.8542)
# Just across the border with Hồ Chí Minh City, inside the rough bounding-box outline: the neighbours'
# communes take part in the Voronoi diagram, so these are not ours.
CU_CHI = (10.9739, 106.4936)
BINH_CHANH = (10.6880, 106.5935)


def test_central_tan_an_resolves_to_a_tan_an_area_ward(session: Session, loaded_areas: LoadedAreas) -> None:
    area = lookup.find_area(session, *CENTRAL_TAN_AN)
    assert area is not None
    assert area.name in {"Phường Tân An", "Phường Long An", "Phường Khánh Hậu"}
    assert area.valid_to is None
    assert area.geometry_approximate is True
    assert area.geometry_source == "approximate-voronoi"
    assert [a.id for a in ancestors(session, area)] == [loaded_areas.province_id]


def test_every_current_ward_contains_its_own_point(session: Session, loaded_areas: LoadedAreas) -> None:
    wards, total = list_areas(session, level="commune", limit=500)
    assert total == 96
    for ward in wards:
        assert ward.lat is not None
        assert ward.lon is not None
        found = lookup.find_area(session, ward.lat, ward.lon)
        assert found is not None
        assert found.id == ward.id, ward.name


def test_lookup_at_a_2024_date_returns_the_legacy_commune(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    old = lookup.find_area(session, *CENTRAL_TAN_AN, at=date(2024, 6, 1))
    assert old is not None
    assert old.valid_to == date(2025, 7, 1)
    chain = ancestors(session, old)
    assert [a.name for a in chain] == ["Thành phố Tân An", "Tỉnh Long An"]
    # The day before and the day of the reform fall on either side.
    assert lookup.find_area(session, *CENTRAL_TAN_AN, at=date(2025, 6, 30)) == old
    new = lookup.find_area(session, *CENTRAL_TAN_AN, at=date(2025, 7, 1))
    assert new is not None
    assert new.valid_to is None
    # There are no districts after 2025.
    assert lookup.find_area(session, *CENTRAL_TAN_AN, level="district") is None
    district = lookup.find_area(session, *CENTRAL_TAN_AN, at=date(2024, 6, 1), level="district")
    assert district is not None
    assert district.name == "Thành phố Tân An"


def test_locate_returns_every_level_finest_first(session: Session, loaded_areas: LoadedAreas) -> None:
    now = lookup.locate(session, *CENTRAL_TAN_AN)
    assert [a.level for a in now] == ["commune", "province"]
    assert now[1].id == loaded_areas.province_id
    then = lookup.locate(session, *CENTRAL_TAN_AN, at=date(2024, 1, 1))
    assert [a.level for a in then] == ["commune", "district", "province"]
    assert then[2].id == loaded_areas.legacy_long_an_id


@pytest.mark.parametrize("point", [CAN_THO, HA_NOI, CU_CHI, BINH_CHANH])
def test_points_outside_the_province_find_nothing(
    session: Session, loaded_areas: LoadedAreas, point: tuple[float, float]
) -> None:
    assert lookup.find_area(session, *point) is None
    assert lookup.find_area(session, *point, at=date(2024, 1, 1)) is None
    assert lookup.locate(session, *point) == []


def test_bad_coordinates_are_refused(session: Session, loaded_areas: LoadedAreas) -> None:
    with pytest.raises(ValueError, match="WGS 84"):
        lookup.find_area(session, 91.0, 106.0)
    with pytest.raises(ValueError, match="WGS 84"):
        lookup.find_area(session, float("nan"), 106.0)


def test_lookup_finds_nothing_before_areas_are_loaded(session: Session) -> None:
    assert lookup.find_area(session, *CENTRAL_TAN_AN) is None


def test_old_phuong_1_lists_phuong_long_an_as_successor(session: Session, loaded_areas: LoadedAreas) -> None:
    old = session.get(Area, loaded_areas.old_phuong_1_id)
    assert old is not None
    assert (old.name, old.code, old.valid_to) == ("Phường 1", "27694", date(2025, 7, 1))
    links = direct_successors(session, old.id)
    assert [(a.name, link.relation, link.is_default) for a, link in links] == [
        ("Phường Long An", "merged", True)
    ]
    assert [a.id for a in successors_of(session, old.id)] == [loaded_areas.long_an_ward_id]
    # A current unit is its own successor.
    assert [a.id for a in successors_of(session, loaded_areas.long_an_ward_id)] == [
        loaded_areas.long_an_ward_id
    ]


def test_a_split_commune_lists_all_successors_and_one_default(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    # Xã Bình Thạnh (huyện Thủ Thừa) was split between phường Long An and xã Thủ Thừa (the default).
    binh_thanh = session.scalars(
        select(Area).where(Area.source_key == "vietnamadminunits:legacy:tinhlongan_huyenthuthua_xabinhthanh")
    ).one()
    assert binh_thanh.name == "Xã Bình Thạnh"
    names = {a.name for a in successors_of(session, binh_thanh.id)}
    assert names == {"Phường Long An", "Xã Thủ Thừa"}
    default = default_successor(session, binh_thanh.id)
    assert default is not None
    assert default.name == "Xã Thủ Thừa"


def test_search_ignores_diacritics(session: Session, loaded_areas: LoadedAreas) -> None:
    rows, _ = list_areas(session, q="tan an", historical=True, limit=500)
    names = {a.name for a in rows}
    assert {"Phường Tân An", "Thành phố Tân An"} <= names
    rows, _ = list_areas(session, q="duc hoa", historical=True, limit=500)
    assert "Huyện Đức Hòa" in {a.name for a in rows}
    rows, _ = list_areas(session, q="ĐỨC HÒA", limit=500)  # current only, upper case with marks
    assert {a.name for a in rows} == {"Xã Đức Hòa"}
    assert list_areas(session, q="100%_", limit=10) == ([], 0)


def test_current_list_hides_ended_units_unless_historical(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    _, current = list_areas(session)
    _, everything = list_areas(session, historical=True)
    _, in_2024 = list_areas(session, at=date(2024, 1, 1))
    assert current == 97
    assert everything == 97 + 2 + 24 + 280
    assert in_2024 == 2 + 24 + 280


class FakeClock:
    """Stands in for ``lookup._clock``: time moves only when a test says so (no sleeping)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(lookup, "_clock", fake)
    return fake


def _square_around(lat: float, lon: float, d: float = 0.001) -> dict[str, object]:
    return {
        "type": "Polygon",
        "coordinates": [
            [
                [lon - d, lat - d],
                [lon + d, lat - d],
                [lon + d, lat + d],
                [lon - d, lat + d],
                [lon - d, lat - d],
            ]
        ],
    }


def test_cache_is_rebuilt_when_a_geometry_changes(
    session: Session, loaded_areas: LoadedAreas, clock: FakeClock
) -> None:
    # the clock stands still: a change made through this process's ORM is seen at once, not after the window
    assert lookup.find_area(session, *CENTRAL_TAN_AN) is not None
    first = lookup.area_index(session)
    ward = session.get(Area, loaded_areas.khanh_hau_ward_id)
    assert ward is not None
    lat, lon = CENTRAL_TAN_AN
    ward.geometry = _square_around(lat, lon)
    session.commit()
    assert lookup.area_index(session) is not first
    # Two cells now cover the point; the lowest id wins deterministically, and Khánh Hậu is among the hits.
    hits = lookup.area_index(session).find(lon, lat, at=date(2026, 1, 1), level="commune")
    assert loaded_areas.khanh_hau_ward_id in {h.id for h in hits}


def test_another_process_change_is_seen_after_the_recheck_window(
    session: Session, loaded_areas: LoadedAreas, clock: FakeClock
) -> None:
    """An import by another process (no ORM events here) reaches routing within RECHECK_SECONDS: the cached
    index is used without a query until then, and the first lookup after it sees the change."""
    far_ward = session.scalar(
        select(Area.id).where(
            Area.level == "commune", Area.valid_to.is_(None), Area.id != loaded_areas.khanh_hau_ward_id
        )
    )
    assert far_ward is not None
    first = lookup.area_index(session)
    lat, lon = HA_NOI  # outside the province: no unit covers it
    assert lookup.find_area(session, lat, lon) is None
    # "another process": a plain connection of its own, Core only, committed
    with session.get_bind().engine.begin() as conn:
        conn.execute(
            Area.__table__.update()
            .where(Area.__table__.c.id == far_ward)
            .values(geometry=_square_around(lat, lon), geometry_changed_at=utcnow())
        )
    session.rollback()  # a new transaction, as the next request would have
    clock.now += lookup.RECHECK_SECONDS / 2
    assert lookup.area_index(session) is first  # inside the window: the accepted staleness
    assert lookup.find_area(session, lat, lon) is None
    clock.now += lookup.RECHECK_SECONDS / 2 + 0.01
    found = lookup.find_area(session, lat, lon)
    assert found is not None
    assert found.id == far_ward
    assert lookup.area_index(session) is not first


def test_an_unchanged_database_keeps_its_index_after_the_window(
    session: Session, loaded_areas: LoadedAreas, clock: FakeClock
) -> None:
    first = lookup.area_index(session)
    clock.now += lookup.RECHECK_SECONDS * 10
    assert lookup.area_index(session) is first  # the signature matched: no rebuild


def test_a_rolled_back_change_is_not_routed_to(
    session: Session, loaded_areas: LoadedAreas, clock: FakeClock
) -> None:
    first = lookup.area_index(session)
    lat, lon = HA_NOI
    ward = session.get(Area, loaded_areas.khanh_hau_ward_id)
    assert ward is not None
    ward.geometry = _square_around(lat, lon)
    session.flush()
    # the writing transaction routes with its own rows, without sharing that index with anyone
    hit = lookup.find_area(session, lat, lon)
    assert hit is not None
    assert hit.id == loaded_areas.khanh_hau_ward_id
    session.rollback()
    assert lookup.find_area(session, lat, lon) is None
    assert lookup.area_index(session).signature == first.signature

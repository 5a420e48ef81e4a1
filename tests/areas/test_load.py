"""Loading the current and legacy units with lineage, on both backends."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.areas.lineage import direct_successors
from cityops.areas.models import Area, AreaLineage
from cityops.areas.service import load_areas
from tests.fixtures_areas import LoadedAreas


def _count(session: Session, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(Area).where(*where)) or 0  # type: ignore[arg-type]


def test_current_province_has_96_communes_and_no_districts(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    province = session.get(Area, loaded_areas.province_id)
    assert province is not None
    assert (province.code, province.name, province.valid_from, province.valid_to) == (
        "80",
        "Tỉnh Tây Ninh",
        date(2025, 7, 1),
        None,
    )
    assert _count(session, Area.level == "province", Area.valid_to.is_(None)) == 1
    assert _count(session, Area.parent_id == province.id, Area.level == "commune") == 96
    assert _count(session, Area.level == "district", Area.valid_to.is_(None)) == 0


def test_legacy_long_an_has_districts_and_186_communes(session: Session, loaded_areas: LoadedAreas) -> None:
    long_an = session.get(Area, loaded_areas.legacy_long_an_id)
    assert long_an is not None
    assert (long_an.code, long_an.valid_to) == ("80", date(2025, 7, 1))
    districts = list(session.scalars(select(Area).where(Area.parent_id == long_an.id)))
    assert len(districts) == 15
    assert {d.level for d in districts} == {"district"}
    assert _count(session, Area.parent_id.in_([d.id for d in districts])) == 186
    old_tay_ninh = session.get(Area, loaded_areas.legacy_tay_ninh_id)
    assert old_tay_ninh is not None
    assert old_tay_ninh.valid_to == date(2025, 7, 1)


def test_every_legacy_commune_has_a_successor(session: Session, loaded_areas: LoadedAreas) -> None:
    legacy = select(Area.id).where(Area.level == "commune", Area.valid_to.is_not(None))
    with_successor = (
        select(AreaLineage.predecessor_id).where(AreaLineage.predecessor_id.in_(legacy)).distinct()
    )
    assert _count(session, Area.id.in_(legacy)) == 280
    assert len(list(session.scalars(with_successor))) == 280
    # Both legacy provinces flow into the current one.
    preds = set(
        session.scalars(
            select(AreaLineage.predecessor_id).where(AreaLineage.successor_id == loaded_areas.province_id)
        )
    )
    assert preds == {loaded_areas.legacy_long_an_id, loaded_areas.legacy_tay_ninh_id}
    # Each split names exactly one default successor.
    splits = session.execute(
        select(AreaLineage.predecessor_id, func.count())
        .where(AreaLineage.relation == "split", AreaLineage.is_default.is_(True))
        .group_by(AreaLineage.predecessor_id)
    ).all()
    assert splits
    assert all(n == 1 for _, n in splits)


def test_codes_are_reused_so_units_are_code_level_and_validity(
    session: Session, loaded_areas: LoadedAreas
) -> None:
    same_code = list(session.scalars(select(Area).where(Area.code == "27694").order_by(Area.id)))
    assert {(a.name, a.valid_to) for a in same_code} == {
        ("Phường Long An", None),
        ("Phường 1", date(2025, 7, 1)),
    }


def test_load_is_idempotent(session: Session, loaded_areas: LoadedAreas) -> None:
    assert loaded_areas.stats.created == 1 + 96 + 2 + 24 + 280
    before = session.execute(select(Area.id, Area.geometry_changed_at).order_by(Area.id)).all()
    links = session.scalar(select(func.count()).select_from(AreaLineage))
    again = load_areas(session)
    session.commit()
    assert not again.changed
    assert again.unchanged == loaded_areas.stats.created
    assert session.execute(select(Area.id, Area.geometry_changed_at).order_by(Area.id)).all() == before
    assert session.scalar(select(func.count()).select_from(AreaLineage)) == links


def test_load_repairs_a_changed_unit(session: Session, loaded_areas: LoadedAreas) -> None:
    ward = session.get(Area, loaded_areas.tan_an_ward_id)
    assert ward is not None
    ward.name = "Tampered"
    session.commit()
    stats = load_areas(session)
    session.commit()
    assert stats.updated == 1
    session.refresh(ward)
    assert ward.name == "Phường Tân An"
    assert ward.name_key == "phuong tan an"


def test_plugin_hooks_load_demo_and_register_the_cli(session: Session) -> None:
    import io

    import typer
    from rich.console import Console
    from typer.testing import CliRunner

    from cityops.areas import plugin
    from cityops.settings import load_settings

    buffer = io.StringIO()
    plugin.load_demo(session=session, settings=load_settings(env="test"), console=Console(file=buffer))
    session.commit()
    assert "Areas: 403 created" in buffer.getvalue()
    assert _count(session, Area.level == "commune") == 96 + 280

    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """Test root."""

    plugin.register_cli(cli=root)
    result = CliRunner().invoke(root, ["areas", "--help"])
    assert result.exit_code == 0
    for command in ("list", "show", "lookup", "import", "load"):
        assert command in result.output


def test_converter_key_collisions_are_not_lineage(session: Session, loaded_areas: LoadedAreas) -> None:
    # converter_2025.json links both "phuong4" wards (Tân An and Tây Ninh city, 90 km apart) to both
    # phường Long An and phường Tân Ninh; only the near successor is kept.
    olds = session.scalars(select(Area).where(Area.name == "Phường 4", Area.valid_to.is_not(None))).all()
    assert len(olds) == 2
    succ = {a.source_key: [s.name for s, _ in direct_successors(session, a.id)] for a in olds}
    assert succ == {
        "vietnamadminunits:legacy:tinhlongan_thanhphotanan_phuong4": ["Phường Long An"],
        "vietnamadminunits:legacy:tinhtayninh_thanhphotayninh_phuong4": ["Phường Tân Ninh"],
    }


def test_load_removes_links_the_source_no_longer_gives(session: Session, loaded_areas: LoadedAreas) -> None:
    session.add(
        AreaLineage(
            predecessor_id=loaded_areas.old_phuong_1_id,
            successor_id=loaded_areas.khanh_hau_ward_id,
            effective=date(2025, 7, 1),
            relation="split",
            is_default=False,
        )
    )
    session.commit()
    stats = load_areas(session)
    session.commit()
    assert stats.lineage_removed == 1
    succ = session.scalars(
        select(AreaLineage.successor_id).where(AreaLineage.predecessor_id == loaded_areas.old_phuong_1_id)
    ).all()
    assert list(succ) == [loaded_areas.long_an_ward_id]

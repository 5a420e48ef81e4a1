"""Importing places from GeoJSON and CSV: idempotent on the external id, bad rows rejected with reasons,
``--dry-run`` writes nothing, VN-2000 coordinates reprojected; the CLI prints the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pyproj import Transformer
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.audit.models import AuditEntry
from cityops.errors import Invalid
from cityops.places.cli import places_cli
from cityops.places.importer import PlaceImportError, import_features
from cityops.places.models import Place
from tests.conftest import Backend
from tests.places.conftest import count


def _feature(ext: str | None, lon: float, lat: float, **props: Any) -> dict[str, Any]:
    properties = {"name": f"Cống {ext}", "waterway": "Kênh Bảo Định", **props}
    if ext is not None:
        properties["ma"] = ext
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": properties,
    }


def _collection(*features: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features), **extra}).encode()


GOOD = _collection(
    _feature("A", 106.41, 10.535, width_m=12, status="closed", demo=True, colour="red"),
    _feature("B", 106.42, 10.54),
)


def test_geojson_import_is_idempotent_on_the_external_id(session: Session) -> None:
    report = import_features(session, GOOD, "t_gate", source_name="thuy-loi")
    session.commit()
    assert [label for label, _ in report.created] == ["feature 0 (A)", "feature 1 (B)"]
    assert report.rejected == []
    assert report.ignored == ["colour"]
    a = session.scalars(select(Place).where(Place.external_id == "A")).one()
    assert (a.name, a.status, a.attributes, a.source) == (
        "Cống A",
        "closed",
        {"waterway": "Kênh Bảo Định", "width_m": 12},
        "thuy-loi",
    )
    again = import_features(session, GOOD, "t_gate", source_name="thuy-loi")
    session.commit()
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 2)
    changed = _collection(_feature("A", 106.41, 10.535, width_m=14), _feature("B", 106.42, 10.54))
    third = import_features(session, changed, "t_gate", source_name="thuy-loi")
    session.commit()
    assert [label for label, _ in third.updated] == ["feature 0 (A)"]
    session.refresh(a)
    assert a.attributes == {"waterway": "Kênh Bảo Định", "width_m": 14}
    assert a.status == "closed"  # a row without a status keeps the place's
    assert count(session, Place) == 2
    actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["place.create", "place.create", "place.update"]
    assert session.scalars(select(AuditEntry.actor_label)).first() == "import:thuy-loi"


def test_bad_rows_are_reported_and_change_nothing(session: Session) -> None:
    data = _collection(
        _feature("A", 106.41, 10.535),
        _feature(None, 106.41, 10.535),
        _feature("C", 106.41, 10.535, width_m=500),
        _feature("A", 106.43, 10.535),
        _feature("E", 206.0, 10.5),
        {"type": "Feature", "geometry": None, "properties": {"ma": "F"}},
    )
    report = import_features(session, data, "t_gate", source_name="x")
    session.commit()
    assert [label for label, _ in report.created] == ["feature 0 (A)"]
    reasons = dict(report.rejected)
    assert reasons["feature 1"] == "no external id (id, external_id, ma or code)"
    assert reasons["feature 2 (C)"] == "attributes.width_m: must be at most 100"
    assert "appears twice" in reasons["feature 3 (A)"]
    assert reasons["feature 4 (E)"].startswith("geometry: is not WGS 84")
    assert "name: is required" in reasons["feature 5 (F)"]
    assert "attributes.waterway: is required" in reasons["feature 5 (F)"]
    assert count(session, Place) == 1


def test_dry_run_writes_nothing(session: Session) -> None:
    report = import_features(session, GOOD, "t_gate", source_name="x", dry_run=True)
    session.commit()
    assert report.dry_run
    assert len(report.created) == 2
    assert report.created[0][1] is None
    assert count(session, Place) == 0
    assert count(session, AuditEntry) == 0
    assert "would be created" in report.summary()


CSV_TEXT = (
    "ma;ten;vi_do;kinh_do;waterway;width_m;doors;automated;control\n"
    "G1;Cống Đồng Khởi;10,535;106,41;Kênh Bảo Định;12,5;2;có;manual\n"
    "G2;Cống Rạch Chanh;10.54;106.42;Rạch Chanh;;;;\n"
    "G3;Cống xấu;10.54;abc;Rạch;;;;\n"
    "G4;Cống xấu 2;10.54;106.42;Rạch;x;1.5;maybe;auto\n"
)


def test_csv_import_with_vietnamese_column_names(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "cong.csv"
    path.write_text(CSV_TEXT, encoding="utf-8-sig")
    report = import_features(session, path, "t_gate", source_name="cong.csv")
    session.commit()
    assert [label for label, _ in report.created] == ["line 2 (G1)", "line 3 (G2)"]
    g1 = session.scalars(select(Place).where(Place.external_id == "G1")).one()
    assert (g1.lat, g1.lon) == (10.535, 106.41)
    assert g1.attributes == {
        "waterway": "Kênh Bảo Định",
        "width_m": 12.5,
        "doors": 2,
        "control": "manual",
        "automated": True,
    }
    reasons = dict(report.rejected)
    assert reasons["line 4 (G3)"].startswith("geometry:")
    assert reasons["line 5 (G4)"] == (
        "attributes.width_m: must be a number; attributes.doors: must be a whole number; "
        "attributes.automated: must be true or false; attributes.control: must be one of manual, remote"
    )


def test_csv_without_coordinates_and_unknown_type_fail_as_a_whole(session: Session) -> None:
    with pytest.raises(PlaceImportError, match="latitude column"):
        import_features(session, b"ma,ten\n1,x\n", "t_gate", source_name="x")
    with pytest.raises(Invalid, match="Unknown place type"):
        import_features(session, GOOD, "volcano", source_name="x")
    with pytest.raises(PlaceImportError, match="FeatureCollection"):
        import_features(session, b'{"type": "Point"}', "t_gate", source_name="x")


def test_vn2000_tm3_coordinates_are_reprojected(session: Session) -> None:
    to_tm3 = Transformer.from_crs("EPSG:4326", "EPSG:9210", always_xy=True)
    x, y = to_tm3.transform(106.41, 10.535)
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::9210"}}
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": {}}
    feature["properties"] = {"ma": "T", "ten": "Cống TM-3", "waterway": "Kênh"}
    report = import_features(session, _collection(feature, crs=crs), "t_gate", source_name="vn2000")
    assert report.rejected == []
    place = session.scalars(select(Place)).one()
    assert place.lon == pytest.approx(106.41, abs=1e-6)
    assert place.lat == pytest.approx(10.535, abs=1e-6)
    # the same numbers read as WGS 84 (no crs) are refused, not stored somewhere off the planet
    wrong = import_features(session, _collection(feature), "t_gate", source_name="other")
    assert wrong.rejected
    assert wrong.rejected[0][1].startswith("geometry: is not WGS 84")


def test_cli_import_reports_and_dry_run(backend: Backend, tmp_path: Path, session: Session) -> None:
    path = tmp_path / "cong.csv"
    path.write_text(CSV_TEXT, encoding="utf-8")
    runner = CliRunner()
    args = ["import", str(path), "--type", "t_gate"]
    env = {"CITYOPS_DATABASE_URL": backend.url, "CITYOPS_ENV": "test", "COLUMNS": "200"}
    dry = runner.invoke(places_cli, [*args, "--dry-run"], env=env)
    assert "4 row(s) of type t_gate from cong.csv: 2 would be created" in dry.output, dry.output
    assert count(session, Place) == 0
    result = runner.invoke(places_cli, args, env=env)
    assert result.exit_code == 3, result.output  # some rows were rejected
    assert "2 were created, 0 updated, 0 unchanged, 2 rejected" in result.output
    assert "line 4 (G3)" in result.output
    assert count(session, Place) == 2
    again = runner.invoke(places_cli, args, env=env)
    assert "0 were created, 0 updated, 2 unchanged, 2 rejected" in again.output

"""``cityops areas …`` commands, run against the test database."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from cityops.areas.cli import areas_cli
from cityops.areas.models import Area
from tests.conftest import Backend
from tests.fixtures_areas import LoadedAreas

runner = CliRunner()


def _run(backend: Backend, *args: str) -> tuple[int, str]:
    result = runner.invoke(
        areas_cli,
        list(args),
        env={"CITYOPS_DATABASE_URL": backend.url, "CITYOPS_ENV": "test", "COLUMNS": "200"},
    )
    return result.exit_code, result.output


def test_list_and_search(backend: Backend, loaded_areas: LoadedAreas) -> None:
    code, out = _run(backend, "list", "--level", "commune")
    assert code == 0, out
    assert "96 area(s)" in out
    assert "Phường Long An" in out
    code, out = _run(backend, "list", "--q", "duc hoa", "--historical")
    assert code == 0, out
    assert "Huyện Đức Hòa" in out
    assert "Xã Đức Hòa" in out
    code, out = _run(backend, "list", "--level", "village")
    assert code == 2


def test_show_a_reused_code_lists_both_units_with_lineage(
    backend: Backend, loaded_areas: LoadedAreas
) -> None:
    code, out = _run(backend, "show", "27694")
    assert code == 0, out
    assert "Phường Long An" in out
    assert "Phường 1" in out
    assert "→ Phường Long An" in out  # old Phường 1's successor
    assert "← Phường 1" in out  # and back
    code, out = _run(backend, "show", f"#{loaded_areas.old_phuong_1_id}")
    assert code == 0
    assert "today: Phường Long An" in out
    code, _ = _run(backend, "show", "00000")
    assert code == 1


def test_lookup(backend: Backend, loaded_areas: LoadedAreas) -> None:
    code, out = _run(backend, "lookup", "10.5355", "106.4136")
    assert code == 0, out
    assert "province: Tỉnh Tây Ninh" in out
    assert any(n in out for n in ("Phường Tân An", "Phường Long An", "Phường Khánh Hậu"))
    code, out = _run(backend, "lookup", "10.5355", "106.4136", "--at", "01/06/2024")
    assert code == 0
    assert "district: Thành phố Tân An" in out
    assert _run(backend, "lookup", "21.0285", "105.8542")[0] == 1
    assert _run(backend, "lookup", "95", "105")[0] == 2


def test_import_ok_and_refused(
    backend: Backend, loaded_areas: LoadedAreas, session: Session, tmp_path: Path
) -> None:
    ward = session.get(Area, loaded_areas.khanh_hau_ward_id)
    assert ward is not None
    ring = [[106.35, 10.53], [106.37, 10.53], [106.37, 10.55], [106.35, 10.55], [106.35, 10.53]]
    good = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": ward.code},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path / "khanh-hau.geojson"
    path.write_text(json.dumps(good), encoding="utf-8")
    code, out = _run(backend, "import", str(path))
    assert code == 0, out
    assert "Imported 1 boundary" in out
    session.expire_all()
    ward = session.get(Area, loaded_areas.khanh_hau_ward_id)
    assert ward is not None
    assert ward.geometry_approximate is False
    assert ward.geometry_source == "khanh-hau.geojson"

    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    code, out = _run(backend, "import", str(bad))
    assert code == 1
    assert "not valid JSON" in out
    code, out = _run(backend, "import", str(path), "--crs", "EPSG:9210")  # lon/lat read as metres
    assert code == 1
    assert "outside Vietnam" in out

# mypy: disable-error-code="no-untyped-call"
"""The base map: a tiny PMTiles archive made here, imported by the CLI, served with exact range answers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import typer
from fastapi.testclient import TestClient
from PIL import Image
from pmtiles.reader import Reader
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from typer.testing import CliRunner

from cityops.app import create_app
from cityops.basemap import plugin
from cityops.basemap.archive import NotPMTiles, archive_path, import_archive, read_header
from cityops.settings import Settings


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (256, 256), colour).save(buf, "PNG")
    return buf.getvalue()


def tiny_archive(path: Path) -> dict[tuple[int, int, int], bytes]:
    """Tiles z0 and the four z1 tiles over Tây Ninh's bounds, PNG, uncompressed."""
    tiles = {(0, 0, 0): png((200, 220, 240))}
    for x in (0, 1):
        for y in (0, 1):
            tiles[(1, x, y)] = png((40 * (x + 1), 60 * (y + 1), 90))
    with path.open("wb") as f:
        writer = Writer(f)
        for (z, x, y), data in sorted(tiles.items(), key=lambda kv: zxy_to_tileid(*kv[0])):
            writer.write_tile(zxy_to_tileid(z, x, y), data)
        writer.finalize(
            {
                "tile_type": TileType.PNG,
                "tile_compression": Compression.NONE,
                "min_lon_e7": int(105.8 * 1e7),
                "min_lat_e7": int(10.4 * 1e7),
                "max_lon_e7": int(106.8 * 1e7),
                "max_lat_e7": int(11.8 * 1e7),
                "center_zoom": 1,
                "center_lon_e7": int(106.25 * 1e7),
                "center_lat_e7": int(10.95 * 1e7),
            },
            {"attribution": "test tiles"},
        )
    return tiles


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, dict[tuple[int, int, int], bytes]]:
    path = tmp_path / "tayninh.pmtiles"
    return path, tiny_archive(path)


def test_cli_imports_an_archive_and_refuses_other_files(
    settings: Settings,
    archive: tuple[Path, dict[tuple[int, int, int], bytes]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, _ = archive
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("CITYOPS_ENV", "test")
    cli_app = typer.Typer()
    plugin.register_cli(cli=cli_app)
    not_pmtiles = tmp_path / "map.png"
    not_pmtiles.write_bytes(png((1, 2, 3)))
    refused = CliRunner().invoke(cli_app, ["basemap", "import", str(not_pmtiles)])
    assert refused.exit_code == 2
    assert "not a PMTiles archive" in refused.output
    assert not archive_path(settings).exists()
    done = CliRunner().invoke(cli_app, ["basemap", "import", str(path)])
    assert done.exit_code == 0, done.output
    assert "png tiles, zoom 0–1" in done.output
    assert archive_path(settings).read_bytes() == path.read_bytes()


def test_header_checks() -> None:
    with pytest.raises(NotPMTiles):
        read_header(b"PMTiles" + bytes([2]) + bytes(119))
    with pytest.raises(NotPMTiles):
        read_header(b"GIF89a" + bytes(200))


def test_range_requests_are_exact(
    client: TestClient, settings: Settings, archive: tuple[Path, dict[tuple[int, int, int], bytes]]
) -> None:
    path, tiles = archive
    assert client.get("/api/v1/basemap").json() == {"kind": "none", "attribution": ""}
    assert client.get("/basemap/basemap.pmtiles").status_code == 404
    import_archive(settings, path)
    data = path.read_bytes()
    size = len(data)

    info = client.get("/api/v1/basemap").json()
    assert (info["kind"], info["url"], info["tile_type"], info["raster"]) == (
        "pmtiles",
        "/basemap/basemap.pmtiles",
        "png",
        True,
    )
    assert (info["min_zoom"], info["max_zoom"]) == (0, 1)
    assert info["bounds"] == pytest.approx([105.8, 10.4, 106.8, 11.8])

    head = client.get("/basemap/basemap.pmtiles", headers={"Range": "bytes=0-126"})
    assert head.status_code == 206
    assert head.headers["content-range"] == f"bytes 0-126/{size}"
    assert head.headers["content-length"] == "127"
    assert head.headers["accept-ranges"] == "bytes"
    assert head.content == data[:127]
    middle = client.get("/basemap/basemap.pmtiles", headers={"Range": f"bytes=200-{size + 50}"})
    assert (middle.status_code, middle.headers["content-range"]) == (206, f"bytes 200-{size - 1}/{size}")
    assert middle.content == data[200:]
    suffix = client.get("/basemap/basemap.pmtiles", headers={"Range": "bytes=-10"})
    assert (suffix.status_code, suffix.content) == (206, data[-10:])
    whole = client.get("/basemap/basemap.pmtiles")
    assert (whole.status_code, whole.content) == (200, data)
    for bad in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}", "bytes=9-3", "bytes=-", "items=0-3"):
        outside = client.get("/basemap/basemap.pmtiles", headers={"Range": bad})
        assert outside.status_code == 416, bad
        assert outside.headers["content-range"] == f"bytes */{size}"

    # A PMTiles reader working only through range requests finds every tile the archive holds.
    def get_bytes(offset: int, length: int) -> bytes:
        answer = client.get(
            "/basemap/basemap.pmtiles", headers={"Range": f"bytes={offset}-{offset + length - 1}"}
        )
        assert answer.status_code == 206
        return bytes(answer.content)

    reader = Reader(get_bytes)
    for (z, x, y), tile in tiles.items():
        assert reader.get(z, x, y) == tile
    assert reader.get(2, 3, 3) is None  # a tile the archive does not hold


def test_a_configured_tile_url_wins(settings: Settings) -> None:
    configured = settings.model_copy(
        update={"basemap_tile_url": "/tiles/{z}/{x}/{y}.png", "basemap_attribution": "© Sở TN&MT Tây Ninh"}
    )
    with TestClient(create_app(configured)) as client:
        assert client.get("/api/v1/basemap").json() == {
            "kind": "url",
            "url": "/tiles/{z}/{x}/{y}.png",
            "attribution": "© Sở TN&MT Tây Ninh",
        }

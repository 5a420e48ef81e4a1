"""The PMTiles archive on disk: reading its header and importing a file into the data directory.

Only the fixed 127-byte header of PMTiles v3 is read here (magic, version, tile type, zooms, bounds); the
browser reads directories and tiles itself with range requests.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from cityops.settings import Settings

HEADER_LEN = 127
TILE_TYPES = {0: "unknown", 1: "mvt", 2: "png", 3: "jpeg", 4: "webp", 5: "avif"}
RASTER = frozenset({"png", "jpeg", "webp", "avif"})


class NotPMTiles(ValueError):
    """The file is not a PMTiles v3 archive."""


@dataclass(frozen=True)
class Header:
    tile_type: str
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north
    center: tuple[float, float, int]  # lon, lat, zoom


def read_header(data: bytes) -> Header:
    if len(data) < HEADER_LEN or data[:7] != b"PMTiles":
        raise NotPMTiles("not a PMTiles archive (no PMTiles magic number)")
    if data[7] != 3:
        raise NotPMTiles(f"PMTiles version {data[7]} is not supported (version 3 is)")
    min_lon, min_lat, max_lon, max_lat = struct.unpack_from("<iiii", data, 102)
    center_zoom = data[118]
    center_lon, center_lat = struct.unpack_from("<ii", data, 119)
    return Header(
        tile_type=TILE_TYPES.get(data[99], "unknown"),
        min_zoom=data[100],
        max_zoom=data[101],
        bounds=(min_lon / 1e7, min_lat / 1e7, max_lon / 1e7, max_lat / 1e7),
        center=(center_lon / 1e7, center_lat / 1e7, center_zoom),
    )


def archive_path(settings: Settings) -> Path:
    return settings.data_dir / "basemap" / "basemap.pmtiles"


def current_header(settings: Settings) -> Header | None:
    path = archive_path(settings)
    if not path.is_file():
        return None
    with path.open("rb") as f:
        try:
            return read_header(f.read(HEADER_LEN))
        except NotPMTiles:
            return None


def import_archive(settings: Settings, source: Path) -> Header:
    """Check ``source`` and copy it into the data directory, replacing the previous archive atomically."""
    with source.open("rb") as f:
        header = read_header(f.read(HEADER_LEN))
    target = archive_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".pmtiles.part")
    shutil.copyfile(source, partial)
    os.replace(partial, target)
    return header

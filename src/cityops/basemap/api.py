"""``GET /api/v1/basemap`` (what the maps draw under the areas) and ``GET /basemap/basemap.pmtiles``.

The archive is served by cityops itself with HTTP range requests (RFC 9110): ``Range: bytes=a-b`` answers
206 with ``Content-Range``; a range outside the file answers 416 with ``Content-Range: bytes */size``;
no Range answers 200 with the whole file. Nothing is fetched from the internet: without a configured tile
URL or an imported archive the answer is ``kind: none`` and the maps label the wards instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from cityops.basemap.archive import RASTER, archive_path, current_header
from cityops.errors import NotFound
from cityops.settings import Settings

router = APIRouter(tags=["basemap"])
ARCHIVE_URL = "/basemap/basemap.pmtiles"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
MAX_RANGE = 16 * 1024 * 1024  # one request reads at most this much (a directory or a tile is far smaller)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/api/v1/basemap")
def basemap(request: Request) -> dict[str, Any]:
    """Which base map to draw: ``url`` (the province's tile server), ``pmtiles`` (the imported archive) or
    ``none``; with the attribution, zooms and bounds."""
    settings = _settings(request)
    if settings.basemap_tile_url:
        return {"kind": "url", "url": settings.basemap_tile_url, "attribution": settings.basemap_attribution}
    header = current_header(settings)
    if header is None:
        return {"kind": "none", "attribution": ""}
    return {
        "kind": "pmtiles",
        "url": ARCHIVE_URL,
        "tile_type": header.tile_type,
        "raster": header.tile_type in RASTER,
        "min_zoom": header.min_zoom,
        "max_zoom": header.max_zoom,
        "bounds": list(header.bounds),
        "attribution": settings.basemap_attribution,
    }


def _read(path: Any, start: int, length: int) -> Iterator[bytes]:
    with path.open("rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


@router.api_route(ARCHIVE_URL, methods=["GET", "HEAD"], include_in_schema=False)
def archive(request: Request) -> Response:
    path = archive_path(_settings(request))
    if not path.is_file():
        raise NotFound("No base map archive has been imported", code="no_basemap")
    size = path.stat().st_size
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "public, max-age=3600"}
    media = "application/vnd.pmtiles"
    spec = request.headers.get("range")
    if spec is None:
        body = _read(path, 0, size) if request.method == "GET" else iter(())
        return StreamingResponse(body, media_type=media, headers={**headers, "Content-Length": str(size)})
    m = RANGE.match(spec.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if m.group(1) == "":  # the last n bytes
        start, end = max(size - int(m.group(2)), 0), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or end < start or end - start + 1 > MAX_RANGE:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    length = end - start + 1
    body = _read(path, start, length) if request.method == "GET" else iter(())
    return StreamingResponse(
        body,
        status_code=206,
        media_type=media,
        headers={**headers, "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(length)},
    )

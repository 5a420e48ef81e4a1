"""The built front-end bundles: where they are, what the build's manifest says, and how they are cached.

``make frontend`` (run by ``make run`` and ``make test``) builds ``frontend/`` into :data:`DIST`. File names
carry a content hash, so they are cached for a year as immutable; pages and the service worker are
revalidated on every load.
"""

from __future__ import annotations

import json
import mimetypes
import stat
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DIST = Path(__file__).parent / "static" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def manifest(dist: Path = DIST) -> dict[str, Any] | None:
    """The build's ``manifest.json`` (apps → js/css file, files → bytes), or None when not built."""
    try:
        data: dict[str, Any] = json.loads((dist / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def is_hashed(name: str) -> bool:
    """True for bundle files whose name carries esbuild's content hash (``citizen-ABCD1234.js``)."""
    stem = Path(name).stem
    return "-" in stem and name.rsplit("/", 1)[0] != "icons" and not name.startswith("icons/")


ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted(scope: Scope, encoding: str) -> bool:
    values = Headers(scope=scope).get("accept-encoding", "")
    return any(part.split(";")[0].strip() == encoding for part in values.split(","))


class CachedStatic(StaticFiles):
    """Static files with cache headers (hashed bundles immutable, the rest an hour) and the build's
    precompressed ``.br``/``.gz`` copies when the browser accepts them."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] in ("GET", "HEAD") and not path.endswith((".br", ".gz")):
            for encoding, ext in ENCODINGS:
                if not accepted(scope, encoding):
                    continue
                full, found = self.lookup_path(path + ext)
                if found is None or not stat.S_ISREG(found.st_mode):
                    continue
                media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
                if media_type.startswith("text/") or media_type.endswith("javascript"):
                    media_type += "; charset=utf-8"
                packed = FileResponse(full, stat_result=found, media_type=media_type)
                packed.headers["Content-Encoding"] = encoding
                self._cache_headers(packed, path)
                return packed
        return await super().get_response(path, scope)

    @staticmethod
    def _cache_headers(response: Response, rel: str) -> None:
        response.headers["Cache-Control"] = IMMUTABLE if is_hashed(rel) else "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Vary"] = "Accept-Encoding"

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Any:
        response = super().file_response(full_path, stat_result, scope, status_code)
        rel = Path(full_path).relative_to(Path(str(self.directory)).resolve()).as_posix()
        self._cache_headers(response, rel)
        return response

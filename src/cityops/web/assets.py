"""The built front-end bundles: where they are, what the build's manifest says, and how they are cached.

``make frontend`` (run by ``make run`` and ``make test``) builds ``frontend/`` into :data:`DIST`. File names
carry a content hash, so they are cached for a year as immutable; pages and the service worker are
revalidated on every load.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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


class CachedStatic(StaticFiles):
    """Static files with cache headers: hashed bundles immutable, the rest revalidated."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Scope, status_code: int = 200) -> Any:
        response = super().file_response(full_path, stat_result, scope, status_code)
        rel = Path(full_path).relative_to(Path(str(self.directory))).as_posix()
        response.headers["Cache-Control"] = IMMUTABLE if is_hashed(rel) else "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

"""The QR code printed on a dossier receipt: it opens the citizen app's lookup page with the code filled in.

The QR holds the code only, never the second factor: a photographed receipt is not enough to read the dossier.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno


def lookup_url(base: str, code: str) -> str:
    """The lookup page of the citizen app for ``code`` (``base`` without a trailing slash)."""
    return f"{base}/#/dossier?code={quote(code, safe='')}"


def qr_svg(url: str) -> bytes:
    """An SVG QR code (error correction M) of ``url``."""
    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=True, svgns=True)
    return out.getvalue()

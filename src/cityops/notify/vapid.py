"""VAPID keys for Web Push: from the settings, or generated once into the data directory.

The private key is the raw P-256 scalar, base64url without padding (what ``cityops push keys`` prints and
``webpush_vapid_private_key`` holds). Without a configured key, the first use creates
``<data_dir>/webpush-vapid.key`` (mode 0600, created exclusively so two workers agree on one key) and
every later start reads it. Browsers subscribe with the public key (``applicationServerKey``): the
uncompressed point, base64url.
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cityops.settings import Settings

log = logging.getLogger("cityops.notify")
KEY_FILE = "webpush-vapid.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_private_key() -> str:
    """A new VAPID private key (raw scalar, base64url)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return _b64(key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(private_key: str) -> str:
    """The browser's ``applicationServerKey`` for ``private_key`` (uncompressed point, base64url)."""
    raw = _unb64(private_key.strip())
    if len(raw) != 32:
        raise ValueError("a VAPID private key is 32 bytes, base64url encoded")
    key = ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(point)


def key_path(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def private_key(settings: Settings, *, create: bool = True) -> str | None:
    """The configured key, else the data directory's (created on first use when ``create``)."""
    if settings.webpush_vapid_private_key:
        return settings.webpush_vapid_private_key.strip()
    path = key_path(settings)
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it a moment ago
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(generate_private_key() + "\n")
    log.info("generated a VAPID key for Web Push in %s", path)
    return path.read_text(encoding="ascii").strip()


def public_key(settings: Settings) -> str | None:
    key = private_key(settings)
    return public_key_of(key) if key else None

"""The second factor of a dossier lookup, and the keyed hashes that keep lookups free of personal data.

The one-stop-shop system sends the applicant's phone or ID number (or only its last 4 digits); only the last
4 digits are used, and only as ``HMAC-SHA256(secret_key, salt | kind | digits)`` with a random salt per
dossier: the full number is never stored, and the hash is useless without the server's secret. Changing
``secret_key`` makes stored factors unusable until the system pushes its dossiers again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

DIGITS = 4
_NOT_DIGIT = re.compile(r"\D")


def last_digits(value: str) -> str | None:
    """The last 4 digits of a phone or ID number as written (spaces, dots, +84 allowed); None if fewer."""
    digits = _NOT_DIGIT.sub("", value)
    return digits[-DIGITS:] if len(digits) >= DIGITS else None


def new_salt() -> str:
    return secrets.token_hex(16)


def factor_hash(secret: str, salt: str, kind: str, digits: str) -> str:
    """The stored form of one factor (``kind`` is ``phone`` or ``id``)."""
    msg = f"{salt}|{kind}|{digits}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def matches(secret: str, salt: str, stored: str | None, kind: str, digits: str) -> bool:
    if not stored:
        return False
    return hmac.compare_digest(stored, factor_hash(secret, salt, kind, digits))


def log_key(secret: str, purpose: str, value: str) -> str:
    """A short keyed hash of a client address or a typed code, for rate limits and the lookup log."""
    return hmac.new(secret.encode(), f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()[:32]

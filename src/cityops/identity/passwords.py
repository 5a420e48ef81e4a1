"""Password hashing with argon2id (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # RFC 9106 low-memory profile: argon2id, t=3, m=64 MiB, p=4
# Verified when the account does not exist, so a missing account takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("cityops-no-such-account")


def use_cheap_parameters_for_tests() -> None:
    """Make hashing fast (argon2id, t=1, m=1 MiB) — for the test suite only, never in the app."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    _DUMMY_HASH = _hasher.hash("cityops-no-such-account")


MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """An encoded argon2id hash (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; False for a wrong password, a malformed hash or no hash at all."""
    if password_hash is None:
        _burn(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _burn(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's; re-hash after a good login."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def check_strength(password: str) -> None:
    """Raise ValueError for a password too short to keep (the only rule: length, as NIST 800-63B advises)."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")

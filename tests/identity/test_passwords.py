"""argon2 hashing, phone normalisation, token digests (no database)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from cityops.identity import passwords, tokens
from cityops.identity.phones import normalize_phone


def test_hash_is_argon2id_and_verifies() -> None:
    h = passwords.hash_password("mật khẩu dài")
    assert h.startswith("$argon2id$v=19$m=")
    assert passwords.verify_password(h, "mật khẩu dài")
    assert not passwords.verify_password(h, "mật khẩu sai")
    assert passwords.hash_password("mật khẩu dài") != h  # salted


def test_verify_tolerates_missing_or_garbage_hashes() -> None:
    assert not passwords.verify_password(None, "anything")
    assert not passwords.verify_password("not-a-hash", "anything")


def test_weak_parameters_need_rehash_current_do_not() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("secret-password")
    assert passwords.verify_password(weak, "secret-password")
    assert passwords.needs_rehash(weak)
    assert not passwords.needs_rehash(passwords.hash_password("secret-password"))
    assert passwords.needs_rehash("garbage")


def test_password_strength() -> None:
    with pytest.raises(ValueError, match="8 characters"):
        passwords.check_strength("short")
    passwords.check_strength("long enough")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("0912 345 678", "+84912345678"),
        ("0912.345.678", "+84912345678"),
        ("84912345678", "+84912345678"),
        ("+84 912-345-678", "+84912345678"),
        ("+840912345678", "+84912345678"),
        ("0084912345678", "+84912345678"),
        ("02723 826 123", "+842723826123"),  # Long An landline
        ("+1 (202) 555-0100", "+12025550100"),
    ],
)
def test_normalize_phone(raw: str, want: str) -> None:
    assert normalize_phone(raw) == want


@pytest.mark.parametrize("raw", ["", "912345678", "09123", "0912abc678", "+84 1234567890123"])
def test_normalize_phone_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match=r"phone number|digits"):
        normalize_phone(raw)


def test_api_keys_are_random_prefixed_and_only_hashed() -> None:
    key, prefix, secret_hash = tokens.new_api_key()
    other, _, _ = tokens.new_api_key()
    assert key != other
    assert key.startswith("cok_")
    assert len(key) > 40
    assert key.startswith(prefix)
    assert len(prefix) == tokens.PREFIX_SHOWN
    assert secret_hash == tokens.digest(key)
    assert key not in secret_hash
    assert len(secret_hash) == 64

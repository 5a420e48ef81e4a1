"""Production refuses weak secrets by length and estimated entropy, not by one known value (#21 finding 5)."""

from __future__ import annotations

import secrets

import pytest

from cityops.settings import DEV_SECRET, SettingsError, load_settings, secret_weakness


@pytest.mark.parametrize(
    "weak",
    [
        "aaaaaaaaaaaaaaaa",  # accepted before: 16 characters, one symbol
        DEV_SECRET + " ",  # accepted before: the default plus a space
        " " + DEV_SECRET.upper(),
        "a" * 64,
        "abcdefghijklmnopqrstuvwxyz0123456789",  # a keyboard walk
        "ababababababababababababababababab",  # two symbols: 34 bits
        "short-but-random-Xq9",
    ],
)
def test_production_refuses_weak_secrets(weak: str) -> None:
    assert secret_weakness(weak) is not None
    with pytest.raises(SettingsError, match="too weak for production"):
        load_settings(env="production", secret_key=weak)


@pytest.mark.parametrize(
    "strong",
    [secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_urlsafe(48)],
    ids=["token_urlsafe(32)", "token_hex(32)", "token_urlsafe(48)"],  # same ids on every xdist worker
)
def test_production_accepts_random_secrets(strong: str) -> None:
    assert secret_weakness(strong) is None
    assert load_settings(env="production", secret_key=strong).secret_key == strong


def test_weak_secrets_are_fine_outside_production() -> None:
    assert load_settings(env="dev", secret_key="aaaaaaaaaaaaaaaa").secret_key == "aaaaaaaaaaaaaaaa"

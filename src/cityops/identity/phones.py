"""Vietnamese phone numbers, normalised to E.164 (``+84…``) so one person has one key."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()]")


def normalize_phone(value: str) -> str:
    """``0912 345 678`` / ``84912345678`` / ``+84 912-345-678`` → ``+84912345678``.

    Numbers without a country code are taken as Vietnamese; other countries must start with ``+``.
    Raises ValueError when the result is not a plausible number.
    """
    raw = _SEPARATORS.sub("", value.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+"):
        digits = raw[1:]
    elif raw.startswith("84") and len(raw) >= 11:
        digits = raw
    elif raw.startswith("0"):
        digits = "84" + raw[1:]
    else:
        raise ValueError("a phone number starts with 0, 84 or +country code")
    if not digits.isdigit():
        raise ValueError("a phone number has only digits after the country code")
    if digits.startswith("84"):
        national = digits[2:]
        if national.startswith("0"):
            national = national[1:]
        if not 9 <= len(national) <= 10:
            raise ValueError("a Vietnamese number has 9 or 10 digits after +84")
        return "+84" + national
    if not 8 <= len(digits) <= 15:
        raise ValueError("an international number has 8 to 15 digits")
    return "+" + digits

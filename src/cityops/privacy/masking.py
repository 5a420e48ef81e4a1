"""Contact details typed into free text are hidden in public outputs.

A report's description, the place it names and the agency's public note are public, as on FixMyStreet and in
Open311, because they say what is wrong and where. Citizens nevertheless often type a phone number, an
e-mail address or an ID number into them ("gọi tôi 0912 345 678"). Handling staff see the text as written;
every public or open-data output passes it through :func:`mask_contacts`, which replaces such runs with
:data:`MASK`. The rule errs towards hiding: any run of nine or more digits (phone, CCCD/CMND, bank account)
is hidden, even with spaces, dots or dashes inside, and so are vehicle plates.
"""

from __future__ import annotations

import re

MASK = "[***]"

_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+", re.UNICODE)
# A "+84"/"84"/"0" phone or any other long number: 9+ digits, optionally split by one space, dot or dash
# between digit groups. Digits glued to letters (a plate "51F12345", a code) are not numbers on their own.
_LONG_NUMBER = re.compile(r"(?<![\w+])\+?\d(?:[ .\-]?\d){8,}(?!\w)")
_SOCIAL = re.compile(r"(?i)\b(?:zalo\.me|zalo|facebook\.com|fb\.com|m\.me|t\.me)/[\w.\-]+")
# Vietnamese vehicle plates ("62A-123.45", "51F 12345", "59-X1 234.56"): a third party's personal data, like
# the plates that media redaction blurs in photos.
_PLATE = re.compile(r"(?<!\w)\d{2}\s?-?\s?[A-Z]{1,2}\d?\s?[-.]?\s?\d{3}\.?\d{1,2}(?!\w)")


# Every plate and every long number holds three digits with at most one separator between them: a text
# without such a run, an "@" or a "/" (most public texts) skips the substitutions that cannot match it. A
# map page masks four texts per point. The MASK put in by one substitution has no digit, "@" or "/", so it
# never makes a later pattern match where the original text could not.
_DIGIT_RUN = re.compile(r"\d[ .\-]?\d[ .\-]?\d")


def mask_contacts(text: str | None) -> str | None:
    """``text`` with e-mail addresses, long numbers (phones, ID and account numbers), profile links and
    vehicle plates replaced by :data:`MASK`; ``None`` stays ``None``."""
    if not text:
        return text
    masked = _EMAIL.sub(MASK, text) if "@" in text else text
    if "/" in text:
        masked = _SOCIAL.sub(MASK, masked)
    if _DIGIT_RUN.search(text) is not None:
        masked = _LONG_NUMBER.sub(MASK, _PLATE.sub(MASK, masked))
    return masked

"""Vietnamese text: NFC normalisation of input and a diacritics-free search key."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
# NFD leaves đ/Đ intact (it is a letter, not d + a mark), so it is mapped by hand.
_LETTER_MAP = str.maketrans({"đ": "d", "Đ": "d", "ð": "d"})


def nfc(value: str) -> str:
    """NFC-normalise and trim; every text input goes through this before it is stored."""
    return unicodedata.normalize("NFC", value).strip()


def search_key(value: str) -> str:
    """Lower-case, diacritics removed (đ → d), whitespace collapsed: ``Phường Tân An`` → ``phuong tan an``."""
    decomposed = unicodedata.normalize("NFD", value.translate(_LETTER_MAP))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", stripped.lower()).strip()


def matches(query: str, text: str) -> bool:
    """True when every word of ``query`` appears in ``text``, ignoring case and diacritics."""
    key = search_key(text)
    return all(word in key for word in search_key(query).split())


def search_words(query: str) -> list[str]:
    """The words of a search query as keys, e.g. for ``Model.name_key.contains(word, autoescape=True)``.

    ``search_words("  Tân  An ")`` → ``["tan", "an"]``; an empty or blank query gives ``[]`` (no filter).
    """
    return search_key(query).split()

"""Vietnamese text: NFC input and a diacritics-insensitive search key (đ → d)."""

from __future__ import annotations

import unicodedata

import pytest

from cityops.text import matches, nfc, search_key, search_words


def decomposed(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_nfc_composes_decomposed_input() -> None:
    typed = decomposed("Phường Tân An")  # what some phones and old Windows keyboards send
    assert typed != "Phường Tân An"
    assert len(typed) > len("Phường Tân An")
    assert nfc(typed) == "Phường Tân An"
    assert unicodedata.is_normalized("NFC", nfc(typed))


def test_nfc_trims_and_is_idempotent() -> None:
    once = nfc("  Xã Bến Lức \n")
    assert once == "Xã Bến Lức"
    assert nfc(once) == once


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Đường Hùng Vương, Phường Tân An", "duong hung vuong, phuong tan an"),
        ("ĐỨC HÒA", "duc hoa"),
        ("  Xã   Bến\tLức ", "xa ben luc"),
        ("Cần Giuộc", "can giuoc"),
        ("Thủ Thừa", "thu thua"),
        ("Tây Ninh", "tay ninh"),
        ("Sở Nông nghiệp và Môi trường", "so nong nghiep va moi truong"),
        ("Ấp Mỹ Lợi, đường tỉnh 827", "ap my loi, duong tinh 827"),
        ("", ""),
    ],
)
def test_search_key(text: str, key: str) -> None:
    assert search_key(text) == key


def test_search_key_is_the_same_for_composed_and_decomposed_input() -> None:
    text = "Đường Hùng Vương, Phường Tân An"
    assert search_key(decomposed(text)) == search_key(text) == "duong hung vuong, phuong tan an"


def test_old_and_new_tone_mark_placement_give_the_same_key() -> None:
    # "Hoà" (old style, mark on a) and "Hòa" (new style, mark on o) are the same word.
    assert "Hoà" != "Hòa"
    assert search_key("Đức Hoà") == search_key("Đức Hòa") == "duc hoa"


def test_search_key_keeps_distinct_words_distinct() -> None:
    assert search_key("Tân An") != search_key("Tân Ân Hưng")
    assert search_key("Long An") != search_key("Long Hựu")


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("tan an", "Phường Tân An", True),
        ("TÂN AN", "phuong tan an", True),
        ("ben luc", "Xã Bến Lức", True),
        ("duong hung vuong", "Đường Hùng Vương, Phường Tân An", True),
        ("hung vuong tan an", "Đường Hùng Vương, Phường Tân An", True),  # any order
        ("duc hue", "Xã Đức Hòa", False),
        ("khanh hau", "Phường Long An", False),
    ],
)
def test_matches(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


@pytest.mark.parametrize(
    ("query", "words"),
    [("  Tân  An ", ["tan", "an"]), ("Đức Hòa", ["duc", "hoa"]), ("", []), ("   ", [])],
)
def test_search_words(query: str, words: list[str]) -> None:
    assert search_words(query) == words

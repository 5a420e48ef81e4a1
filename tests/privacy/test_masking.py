"""Contact details typed into public free text are masked; ordinary place descriptions are not."""

from __future__ import annotations

import pytest

from cityops.privacy.masking import MASK, mask_contacts


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("gọi tôi 0912 345 678 nhé", "0912 345 678"),
        ("SĐT: 0912.345.678", "0912.345.678"),
        ("liên hệ +84 912 345 678", "+84 912 345 678"),
        ("máy bàn 028 3823 4567", "028 3823 4567"),
        ("email nguyen.van.a+pa@gmail.com", "nguyen.van.a+pa@gmail.com"),
        ("CCCD 079201001234", "079201001234"),
        ("STK 1903 5678 9012 345", "1903 5678 9012 345"),
        ("nhắn zalo.me/0912345678", "zalo.me/0912345678"),
        ("facebook.com/nguyen.van.a", "facebook.com/nguyen.van.a"),
        ("xe 62A-123.45 đậu trên vỉa hè", "62A-123.45"),
        ("xe máy 59-X1 234.56", "59-X1 234.56"),
        ("xe tải 51F 12345", "51F 12345"),
        # the cheap pre-checks ("@", "/", a run of three digits) must not let any of these through
        ("mail me: an@x.vn", "an@x.vn"),
        ("FACEBOOK.COM/Nguyen.Van.A", "FACEBOOK.COM/Nguyen.Van.A"),
        ("Zalo/nguyenvana", "Zalo/nguyenvana"),
        ("gọi 0 9 1 2 3 4 5 6 7 8", "0 9 1 2 3 4 5 6 7 8"),
        ("gọi ０９１２３４５６７８", "０９１２３４５６７８"),  # full-width digits are digits too
        ("hẻm 12/3, gọi 0912-345-678", "0912-345-678"),
        ("xe 62A-123.45 của an@x.vn", "62A-123.45"),
    ],
)
def test_contact_details_are_masked(text: str, hidden: str) -> None:
    masked = mask_contacts(text)
    assert masked is not None
    assert hidden not in masked
    assert MASK in masked


@pytest.mark.parametrize(
    "text",
    [
        "số nhà 12/3 đường 30/4, phường Long An",
        "ngày 24/11/2026 lúc 10:30",
        "Ổ gà lớn 2m, sâu 30cm trước số 125 QL1A km 1950",
        "đường tỉnh 827A, ấp 3",
        "Phường 1, TP Tân An, giá 1.000.000 đồng",
        "tổng đài 1900 1234",
        "Đèn đường hỏng",
        "hẻm 4/2 gần chợ, 2 cột đèn",
        "giờ 7 - 9 sáng",
        "a @ b",
    ],
)
def test_places_dates_and_short_numbers_stay(text: str) -> None:
    assert mask_contacts(text) == text


def test_empty_values_pass_through() -> None:
    assert mask_contacts(None) is None
    assert mask_contacts("") == ""


@pytest.mark.parametrize(
    "text",
    [
        "liên hệ an@x.vn hoặc 0912 345 678, zalo.me/0912345678, xe 51F 12345; hẻm 12/3",
        "0912345678@gmail.com",
        "số 12/3 facebook.com/a.b 079201001234",
        "ổ gà ở số 125 QL1A km 1950",
    ],
)
def test_same_result_as_every_pattern_applied(text: str) -> None:
    """The pre-checks only skip substitutions that could not match: the result equals applying them all."""
    from cityops.privacy import masking

    expected = text
    for pattern in (masking._EMAIL, masking._SOCIAL, masking._PLATE, masking._LONG_NUMBER):
        expected = pattern.sub(MASK, expected)
    assert mask_contacts(text) == expected

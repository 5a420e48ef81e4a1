"""Video container metadata (position, device, XMP) is blanked in place; the video's structure, length
and chunk offsets are unchanged, so it still plays."""

from __future__ import annotations

import struct

from sqlalchemy.orm import Session

from cityops.media.store import _check_bmff, _check_webm, media_path, store_upload
from cityops.media.video_metadata import scrub_bmff, scrub_webm
from cityops.settings import Settings
from tests.media.samples import PHONE_POSITION, phone_mp4, phone_webm, tiny_mp4, tiny_webm


def _boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    end = len(data) if end is None else end
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((kind, pos, size))
        pos += size
    return out


def test_mp4_metadata_becomes_zeroed_padding_of_the_same_length() -> None:
    original = phone_mp4()
    for secret in (PHONE_POSITION, b"ACME Phone", b"GPSLatitude"):
        assert secret in original
    clean = scrub_bmff(original)
    assert len(clean) == len(original)
    for secret in (PHONE_POSITION, b"ACME Phone", b"GPSLatitude", b"com.apple.quicktime"):
        assert secret not in clean
    _check_bmff(clean)  # still a valid top level
    top = [kind for kind, _, _ in _boxes(clean)]
    assert top == [b"ftyp", b"moov", b"free", b"mdat"]
    moov = next((pos, size) for kind, pos, size in _boxes(clean) if kind == b"moov")
    assert [k for k, _, _ in _boxes(clean, moov[0] + 8, moov[0] + moov[1])] == [
        b"mvhd",
        b"trak",
        b"free",
        b"free",
    ]
    # the chunk offset still points at the frames
    (offset,) = struct.unpack(">I", clean[clean.index(b"stco") + 12 : clean.index(b"stco") + 16])
    assert clean[offset : offset + 9] == b"FRAMEDATA"


def test_a_video_without_metadata_is_unchanged() -> None:
    assert scrub_bmff(tiny_mp4()) == tiny_mp4()
    assert scrub_webm(tiny_webm()) == tiny_webm()


def test_webm_tags_become_void() -> None:
    original = phone_webm()
    clean = scrub_webm(original)
    assert len(clean) == len(original)
    assert PHONE_POSITION not in clean
    assert b"LOCATION" not in clean
    assert b"\x12\x54\xc3\x67" not in clean  # no Tags element left
    assert b"\x2a\xd7\xb1" in clean  # Info untouched
    _check_webm(clean)


def test_uploaded_videos_are_stored_without_metadata(settings: Settings, session: Session) -> None:
    for data, name, ctype in (
        (phone_mp4(), "v.mov", "video/quicktime"),
        (phone_webm(), "v.webm", "video/webm"),
    ):
        item = store_upload(settings, session, data, name, None).item
        assert item.content_type == ctype
        stored = media_path(settings, item.sha256, ctype).read_bytes()
        assert len(stored) == len(data)
        assert PHONE_POSITION not in stored

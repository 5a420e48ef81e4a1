"""Blank the metadata of uploaded videos without re-encoding them (there is no ffmpeg in the stack).

Phones write where and with what a video was shot into its container: MP4/MOV keep it in ``udta`` boxes
(``©xyz`` position, ``©mak``/``©mod`` device), ``meta`` boxes (Apple's
``com.apple.quicktime.location.ISO6709`` and friends) and XMP ``uuid`` boxes; WebM keeps it in ``Tags``.
Each such box is turned into padding of the same length (``free`` in ISO BMFF, ``Void`` in Matroska) with
its bytes zeroed. Lengths never change, so chunk offsets (``stco``/``co64``) and cue points stay valid and
the video plays as before.
"""

from __future__ import annotations

import struct

# Boxes that hold metadata, and the containers in which they are looked for.
BMFF_METADATA = frozenset({b"udta", b"meta", b"uuid", b"XMP_"})
BMFF_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"edts"})

EBML_SEGMENT = 0x18538067
EBML_TAGS = 0x1254C367
EBML_VOID = 0xEC


def scrub_bmff(data: bytes) -> bytes:
    """An MP4/MOV with every metadata box turned into zeroed ``free`` padding (same length)."""
    out = bytearray(data)
    _scrub_boxes(out, 0, len(out), top=True)
    return bytes(out)


def _scrub_boxes(buf: bytearray, start: int, end: int, *, top: bool) -> None:
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", buf[pos : pos + 8])
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack(">Q", buf[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return  # damaged past here: the caller validated the top level; leave the rest as it is
        if kind in BMFF_METADATA and not (top and kind == b"uuid" and not _is_xmp(buf, pos + header)):
            buf[pos + 4 : pos + 8] = b"free"
            buf[pos + header : pos + size] = bytes(size - header)
        elif kind in BMFF_CONTAINERS:
            _scrub_boxes(buf, pos + header, pos + size, top=False)
        pos += size


_XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


def _is_xmp(buf: bytearray, payload: int) -> bool:
    return bytes(buf[payload : payload + 16]) == _XMP_UUID


def scrub_webm(data: bytes) -> bytes:
    """A WebM whose ``Tags`` elements are replaced by zeroed ``Void`` elements of the same length.

    Left as it is when the file's structure is not the plain one (unknown-size elements around the tags are
    followed; an element whose header cannot be rewritten in place is skipped)."""
    out = bytearray(data)
    pos = _element_end(out, 0)  # skip the EBML header
    while pos is not None and pos < len(out):
        head = _read_element(out, pos)
        if head is None:
            break
        ident, id_len, size_len, size = head
        body = pos + id_len + size_len
        if ident == EBML_SEGMENT:
            _scrub_segment(out, body, len(out) if size is None else min(len(out), body + size))
        pos = None if size is None else body + size
    return bytes(out)


def _scrub_segment(buf: bytearray, start: int, end: int) -> None:
    pos = start
    while pos < end:
        head = _read_element(buf, pos)
        if head is None:
            return
        ident, id_len, size_len, size = head
        if size is None:
            return  # an unknown-size cluster: the tags, if any, came before it
        total = id_len + size_len + size
        if ident == EBML_TAGS:
            _make_void(buf, pos, total)
        pos += total


def _make_void(buf: bytearray, pos: int, total: int) -> None:
    """Overwrite ``total`` bytes at ``pos`` with one Void element (1-byte id, size in ``total - 1 - n``)."""
    for size_len in range(1, 9):
        payload = total - 1 - size_len
        if 0 <= payload < (1 << (7 * size_len)) - 1:
            marker = 1 << (7 * size_len)
            buf[pos] = EBML_VOID
            buf[pos + 1 : pos + 1 + size_len] = (marker | payload).to_bytes(size_len, "big")
            buf[pos + 1 + size_len : pos + total] = bytes(payload)
            return


def _read_element(buf: bytearray, pos: int) -> tuple[int, int, int, int | None] | None:
    """(id, id length, size length, size or None when unknown) of the element at ``pos``."""
    if pos >= len(buf) or buf[pos] == 0:
        return None
    id_len = 9 - buf[pos].bit_length()
    if id_len > 4 or pos + id_len >= len(buf) or buf[pos + id_len] == 0:
        return None
    ident = int.from_bytes(buf[pos : pos + id_len], "big")
    first = buf[pos + id_len]
    size_len = 9 - first.bit_length()
    if pos + id_len + size_len > len(buf):
        return None
    raw = int.from_bytes(buf[pos + id_len : pos + id_len + size_len], "big") & ((1 << (7 * size_len)) - 1)
    size = None if raw == (1 << (7 * size_len)) - 1 else raw
    return ident, id_len, size_len, size


def _element_end(buf: bytearray, pos: int) -> int | None:
    head = _read_element(buf, pos)
    if head is None or head[3] is None:
        return None
    return pos + head[1] + head[2] + head[3]

"""Sample uploads made on the fly (Pillow, hand-built containers); reports tests may import them too."""

from __future__ import annotations

import hashlib
import struct
import zlib
from io import BytesIO

from PIL import ExifTags, Image

# Phường Long An (old Tân An) in degrees, minutes, seconds.
GPS_DMS = ((10.0, 32.0, 9.24), (106.0, 24.0, 49.32))


def jpeg_with_exif(size: tuple[int, int] = (64, 48), orientation: int = 6) -> bytes:
    """A JPEG whose EXIF has GPS, an orientation (6 = rotate 90° clockwise) and the author's name."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 2, size[1] // 2))  # top-left marker for the rotation
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Artist] = "Nguyễn Văn A"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: GPS_DMS[0],
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: GPS_DMS[1],
    }
    out = BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def noisy_jpeg(size: tuple[int, int] = (200, 150)) -> bytes:
    image = Image.frombytes("RGB", size, hashlib.shake_256(b"noise").digest(size[0] * size[1] * 3))
    out = BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A few hundred bytes that announce a 10-gigapixel image."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def tiny_mp4(brand: bytes = b"isom") -> bytes:
    ftyp = box(b"ftyp", brand + struct.pack(">I", 512) + brand + b"mp41")
    mvhd = box(b"mvhd", bytes(100))
    return ftyp + box(b"moov", mvhd) + box(b"mdat", b"\x00" * 16)


def tiny_webm() -> bytes:
    doctype = b"\x42\x82" + bytes([0x80 | 4]) + b"webm"
    header = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(doctype)]) + doctype
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff"
    return header + segment


XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
PHONE_POSITION = b"+10.5355+106.4136/"


def phone_mp4() -> bytes:
    """An MP4 laid out like a phone's: position and device in moov/udta, Apple keys in moov/meta, a
    track-level udta, XMP in a top-level uuid box, and a chunk offset table pointing into mdat."""
    ftyp = box(b"ftyp", b"qt  " + struct.pack(">I", 0) + b"qt  ")
    stco = box(b"stco", bytes(4) + struct.pack(">II", 1, 0xDEADBEEF))  # offset patched below
    trak = box(
        b"trak",
        box(b"tkhd", bytes(84))
        + box(b"mdia", box(b"minf", box(b"stbl", stco)))
        + box(b"udta", box(b"\xa9mak", b"ACME Phone")),
    )
    udta = box(b"udta", box(b"\xa9xyz", struct.pack(">HH", len(PHONE_POSITION), 0) + PHONE_POSITION))
    meta = box(b"meta", bytes(4) + box(b"keys", b"com.apple.quicktime.location.ISO6709" + PHONE_POSITION))
    moov = box(b"moov", box(b"mvhd", bytes(100)) + trak + udta + meta)
    xmp = box(b"uuid", XMP_UUID + b"<x:xmpmeta><exif:GPSLatitude>10,32.13N</exif:GPSLatitude></x:xmpmeta>")
    frames = b"FRAMEDATA" * 4
    head = ftyp + moov + xmp
    offset = len(head) + 8
    head = head.replace(struct.pack(">I", 0xDEADBEEF), struct.pack(">I", offset), 1)
    return head + box(b"mdat", frames)


def ebml(ident: bytes, body: bytes) -> bytes:
    return (
        ident + bytes([0x80 | len(body)]) + body
        if len(body) < 127
        else ident + b"\x40" + bytes([len(body)]) + body
    )


def phone_webm() -> bytes:
    """A WebM with a Tags element (a position tag) before an unknown-size cluster."""
    doctype = b"\x42\x82" + bytes([0x80 | 4]) + b"webm"
    header = b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(doctype)]) + doctype
    tag = ebml(b"\x45\xa3", b"LOCATION") + ebml(b"\x44\x87", PHONE_POSITION)  # TagName, TagString
    tags = ebml(b"\x12\x54\xc3\x67", ebml(b"\x73\x73", ebml(b"\x67\xc8", tag)))  # Tags/Tag/SimpleTag
    info = ebml(b"\x15\x49\xa9\x66", ebml(b"\x2a\xd7\xb1", b"\x0f\x42\x40"))  # Info/TimecodeScale
    cluster = b"\x1f\x43\xb6\x75" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + ebml(b"\xe7", b"\x00")
    segment = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + info + tags + cluster
    return header + segment

"""Upload validation and cleaning, redaction and review, on both backends."""

from __future__ import annotations

import hashlib
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.errors import ApiError
from cityops.media import store
from cityops.media.models import MediaItem
from cityops.media.store import media_path, read_capped, redact, set_review_state, sniff, store_upload
from cityops.settings import Settings
from tests.media.samples import box, jpeg_with_exif, noisy_jpeg, png_bomb, tiny_mp4, tiny_webm


def refused(settings: Settings, session: Session, data: bytes, status: int, name: str = "x.jpg") -> ApiError:
    with pytest.raises(ApiError) as info:
        store_upload(settings, session, data, name, "image/jpeg")
    assert info.value.status == status, info.value.message
    assert session.scalar(select(func.count()).select_from(MediaItem)) == 0
    return info.value


def stored_files(settings: Settings) -> list[Path]:
    return (
        sorted(p for p in settings.media_dir.rglob("*") if p.is_file()) if settings.media_dir.exists() else []
    )


def test_jpeg_is_cleaned_rotated_and_its_gps_returned(settings: Settings, session: Session) -> None:
    upload = jpeg_with_exif()
    result = store_upload(settings, session, upload, "IMG_0001.jpg", "image/jpeg")
    session.commit()
    assert result.gps == (10.5359, 106.4137)
    assert not result.deduplicated
    item = session.get(MediaItem, result.item.id)
    assert item is not None
    assert (item.kind, item.content_type, item.review_state) == ("photo", "image/jpeg", "pending")
    assert (item.width, item.height) == (48, 64)  # orientation 6 applied
    assert (item.exif_lat, item.exif_lon) == (10.5359, 106.4137)
    path = media_path(settings, item.sha256, "image/jpeg")
    assert path.parent.name == item.sha256[:2]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == item.sha256
    assert item.bytes == len(data)
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (48, 64)
        assert dict(stored.getexif()) == {}
        assert not {"exif", "icc_profile", "xmp"} & set(stored.info)
        # The blue quarter was top-left; after a 90° clockwise turn it is top-right.
        r, _g, b = stored.convert("RGB").getpixel((40, 5))  # type: ignore[misc]
        assert b > 150
        assert r < 100
    assert b"Nguy" not in data
    assert b"Exif" not in data
    assert item.thumbnail_sha256 is not None
    with Image.open(media_path(settings, item.thumbnail_sha256, "image/jpeg")) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= settings.media_thumbnail_px


def test_large_photo_gets_a_small_thumbnail(settings: Settings, session: Session) -> None:
    result = store_upload(settings, session, noisy_jpeg((1000, 400)), None, None)
    assert result.gps is None
    assert result.item.thumbnail_sha256 is not None
    with Image.open(media_path(settings, result.item.thumbnail_sha256, "image/jpeg")) as thumb:
        assert thumb.size == (320, 128)


def test_png_and_webp_keep_their_format_without_metadata(settings: Settings, session: Session) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Trần Thị B, 0909 123 456")
    png = BytesIO()
    Image.new("RGBA", (30, 20), (0, 128, 0, 128)).save(png, "PNG", pnginfo=info)
    stored_png = store_upload(settings, session, png.getvalue(), "a.png", "image/png").item
    assert stored_png.content_type == "image/png"
    content = media_path(settings, stored_png.sha256, "image/png").read_bytes()
    assert b"Author" not in content
    assert b"0909" not in content
    with Image.open(BytesIO(content)) as reopened:
        assert reopened.mode == "RGBA"

    webp = BytesIO()
    Image.new("RGB", (30, 20), "yellow").save(webp, "WEBP", exif=Image.Exif())
    stored_webp = store_upload(settings, session, webp.getvalue(), "b.webp", None).item
    assert (stored_webp.content_type, stored_webp.width) == ("image/webp", 30)
    assert media_path(settings, stored_webp.sha256, "image/webp").exists()


def test_same_content_is_stored_once(settings: Settings, session: Session) -> None:
    upload = jpeg_with_exif()
    first = store_upload(settings, session, upload, None, None)
    second = store_upload(settings, session, upload, None, None)
    session.commit()
    assert second.deduplicated
    assert second.item.id == first.item.id
    assert second.gps == first.gps
    assert session.scalar(select(func.count()).select_from(MediaItem)) == 1


def test_decompression_bomb_is_refused(settings: Settings, session: Session) -> None:
    err = refused(settings, session, png_bomb(), 413, "bomb.png")
    assert err.code == "image_too_large"
    assert stored_files(settings) == []


def test_pixel_cap_from_settings(settings: Settings, session: Session) -> None:
    small = settings.model_copy(update={"media_max_pixels": 64 * 47})
    err = refused(small, session, jpeg_with_exif((64, 48)), 413)
    assert err.details == {"width": 64, "height": 48, "max_pixels": 64 * 47}


def test_truncated_jpeg_is_refused(settings: Settings, session: Session) -> None:
    data = noisy_jpeg()
    err = refused(settings, session, data[: len(data) // 2], 422)
    assert err.code == "malformed_media"
    assert stored_files(settings) == []


def test_text_file_named_jpg_is_refused(settings: Settings, session: Session) -> None:
    err = refused(settings, session, "Đây không phải ảnh\n".encode(), 415, "photo.jpg")
    assert "photo.jpg" in err.message
    assert "image/jpeg" in err.message


def test_jpeg_magic_with_garbage_is_refused(settings: Settings, session: Session) -> None:
    refused(settings, session, b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10, 422)


def test_empty_upload_is_refused(settings: Settings, session: Session) -> None:
    refused(settings, session, b"", 422)


def test_oversized_files_are_refused(settings: Settings, session: Session) -> None:
    capped = settings.model_copy(update={"media_max_photo_bytes": 1000, "media_max_video_bytes": 100})
    err = refused(capped, session, noisy_jpeg(), 413)
    assert err.details["kind"] == "photo"
    err = refused(capped, session, tiny_mp4(), 413, "v.mp4")
    assert err.details["kind"] == "video"
    with pytest.raises(ApiError) as info:
        read_capped(BytesIO(b"x" * 1001), capped)
    assert info.value.status == 413
    assert read_capped(BytesIO(b"x" * 1000), capped) == b"x" * 1000


def test_tiny_videos_are_stored_as_uploaded(settings: Settings, session: Session) -> None:
    mp4 = store_upload(settings, session, tiny_mp4(), "v.mp4", "video/mp4").item
    assert (mp4.kind, mp4.content_type, mp4.width, mp4.thumbnail_sha256) == ("video", "video/mp4", None, None)
    assert media_path(settings, mp4.sha256, "video/mp4").read_bytes() == tiny_mp4()
    mov = store_upload(settings, session, tiny_mp4(b"qt  "), "v.mov", None).item
    assert mov.content_type == "video/quicktime"
    webm = store_upload(settings, session, tiny_webm(), "v.webm", None).item
    assert webm.content_type == "video/webm"


@pytest.mark.parametrize(
    "data",
    [
        tiny_mp4()[:-5],  # mdat cut short
        tiny_mp4()[:40],  # moov cut short
        box(b"ftyp", b"isom\x00\x00\x02\x00isom") + box(b"mdat", b"\x00" * 8),  # no moov
        b"\x1a\x45\xdf\xa3\x85\x42\x82\x84we",  # WebM header cut short
    ],
)
def test_malformed_videos_are_refused(settings: Settings, session: Session, data: bytes) -> None:
    refused(settings, session, data, 422, "v.mp4")


def test_sniffing_ignores_names() -> None:
    assert sniff(noisy_jpeg()) == "image/jpeg"
    assert sniff(tiny_mp4()) == "video/mp4"
    assert sniff(b"GIF89a....") is None
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "image/heic"


def test_heic_is_refused_without_a_decoder(settings: Settings, session: Session) -> None:
    if store._HEIC:
        pytest.skip("pillow-heif is installed here, so HEIC is accepted")
    err = refused(settings, session, b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", 415, "a.heic")
    assert "HEIC" in err.message


def test_redact_blurs_a_copy_and_keeps_the_original(settings: Settings, session: Session) -> None:
    item = store_upload(settings, session, noisy_jpeg((200, 150)), None, None).item
    redacted = redact(settings, session, item.id, [(10, 10, 90, 60)])
    session.commit()
    assert redacted.review_state == "redacted"
    assert redacted.redacted_sha256 not in (None, item.sha256)
    assert redacted.redacted_sha256 is not None
    assert redacted.redacted_thumbnail_sha256 is not None
    with (
        Image.open(media_path(settings, item.sha256, "image/jpeg")) as original,
        Image.open(media_path(settings, redacted.redacted_sha256, "image/jpeg")) as blurred,
    ):
        inside_o, inside_b = original.crop((20, 20, 80, 50)), blurred.crop((20, 20, 80, 50))
        outside_o, outside_b = original.crop((120, 80, 190, 140)), blurred.crop((120, 80, 190, 140))

        def spread(im: Image.Image) -> float:
            values = list(im.convert("L").tobytes())
            mean = sum(values) / len(values)
            return sum((v - mean) ** 2 for v in values) / len(values)

        # Noise inside the box is flattened; outside it stays noisy.
        assert spread(inside_b) < spread(inside_o) / 10
        assert spread(outside_b) > spread(outside_o) / 2
    first = redacted.redacted_sha256
    again = redact(settings, session, item, [(100, 100, 150, 140)])
    assert again.redacted_sha256 != first


@pytest.mark.parametrize(
    "bad", [[], [(0, 0, 0, 10)], [(10, 10, 5, 20)], [(0, 0, 201, 10)], [(-1, 0, 10, 10)]]
)
def test_redact_refuses_bad_rectangles(
    settings: Settings, session: Session, bad: list[tuple[int, int, int, int]]
) -> None:
    item = store_upload(settings, session, noisy_jpeg((200, 150)), None, None).item
    with pytest.raises(ApiError) as info:
        redact(settings, session, item, bad)
    assert info.value.status == 422
    assert item.redacted_sha256 is None
    assert item.review_state == "pending"


def test_redact_refuses_videos(settings: Settings, session: Session) -> None:
    item = store_upload(settings, session, tiny_mp4(), None, None).item
    with pytest.raises(ApiError) as info:
        redact(settings, session, item, [(0, 0, 1, 1)])
    assert info.value.status == 422


def test_review_states(settings: Settings, session: Session) -> None:
    item = store_upload(settings, session, noisy_jpeg(), None, None).item
    assert set_review_state(session, item.id, "approved").review_state == "approved"
    assert item.reviewed_at is not None
    for bad in ("published", "redacted"):  # unknown; redacted needs a redacted copy
        with pytest.raises(ApiError) as info:
            set_review_state(session, item, bad)
        assert info.value.status == 422
    assert item.review_state == "approved"
    with pytest.raises(ApiError) as info:
        set_review_state(session, 999_999, "hidden")
    assert info.value.status == 404


def test_avif_is_stored_as_jpeg(settings: Settings, session: Session) -> None:
    upload = BytesIO()
    Image.new("RGB", (40, 30), "blue").save(upload, "AVIF")
    item = store_upload(settings, session, upload.getvalue(), "a.avif", "image/avif").item
    assert (item.content_type, item.width, item.height) == ("image/jpeg", 40, 30)
    with Image.open(media_path(settings, item.sha256, "image/jpeg")) as stored:
        assert stored.format == "JPEG"

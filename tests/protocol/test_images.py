"""Image checks: sizes, base64, magic bytes."""

from __future__ import annotations

import base64

import pytest

from tokenwire.errors import PayloadTooLarge, Unprocessable
from tokenwire.protocol.images import (
    DEFAULT_MAX_IMAGE_BYTES,
    parse_image,
    sniff,
    validate_images,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_sniffs_each_supported_format(data: bytes, media_type: str) -> None:
    assert sniff(data) == media_type
    image = parse_image(b64(data))
    assert image.media_type == media_type
    assert image.size == len(data)
    assert image.data_url == f"data:{media_type};base64,{b64(data)}"


def test_data_url_is_normalised_to_the_sniffed_type() -> None:
    # The declared type is not trusted: the bytes say PNG.
    [url] = validate_images([f"data:image/jpeg;base64,{b64(PNG)}"])
    assert url == f"data:image/png;base64,{b64(PNG)}"


def test_whitespace_in_base64_is_ignored() -> None:
    text = b64(PNG)
    wrapped = "\n".join(text[i : i + 10] for i in range(0, len(text), 10))
    assert parse_image(wrapped).size == len(PNG)


def test_default_limit_is_three_megabytes_decoded() -> None:
    assert DEFAULT_MAX_IMAGE_BYTES == 3 * 1024 * 1024
    at_limit = PNG + b"\x00" * (DEFAULT_MAX_IMAGE_BYTES - len(PNG))
    assert parse_image(b64(at_limit)).size == DEFAULT_MAX_IMAGE_BYTES
    with pytest.raises(PayloadTooLarge) as caught:
        parse_image(b64(at_limit + b"\x00"))
    assert caught.value.status == 413
    assert caught.value.code == "image_too_large"


def test_limit_is_configurable_and_names_the_image() -> None:
    with pytest.raises(PayloadTooLarge, match=r"images\[1\].*limit is 16"):
        validate_images([b64(PNG[:16]), b64(PNG)], max_bytes=16)


@pytest.mark.parametrize(
    "value",
    [
        "not base64 at all!",
        "iVBORw0KGgo",  # truncated: length not a multiple of four
        "data:image/png,rawbytes",  # a data URL that is not base64
        "data:image/png;base64",  # no comma
        "",
    ],
)
def test_bad_base64_is_unprocessable(value: str) -> None:
    with pytest.raises(Unprocessable) as caught:
        parse_image(value)
    assert caught.value.status == 422


def test_bytes_that_are_not_an_image_are_unprocessable() -> None:
    with pytest.raises(Unprocessable, match="not a PNG, JPEG, GIF or WebP") as caught:
        parse_image(b64(b"%PDF-1.7 hello"))
    assert caught.value.code == "unsupported_image_type"

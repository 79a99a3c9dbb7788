"""Images attached to a user message: checked and normalised before anything is stored.

A client sends each image as a ``data:`` URL or as bare base64. We decode it, check the size
of the decoded bytes (``PayloadTooLarge``, 413, above the limit) and sniff its format from the
magic bytes (``Unprocessable``, 422, for bad base64 or anything that is not PNG, JPEG, GIF or
WebP). The declared media type of a data URL is not trusted: the stored data URL carries the
sniffed one, which is what a vision model upstream needs to decode it.

Every way in takes this one check, with one status for one fault: the canonical API (through
the engine), and the dialects that name their image field otherwise (``where``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tokenwire.errors import PayloadTooLarge, Unprocessable

__all__ = ["DEFAULT_MAX_IMAGE_BYTES", "Image", "parse_image", "sniff", "validate_images"]

DEFAULT_MAX_IMAGE_BYTES = 3 * 1024 * 1024

# data:[<media type>][;param=value]*;base64,<data>  (RFC 2397)
_DATA_URL = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),(.*)$", re.DOTALL)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Image:
    """A checked image: its sniffed media type and decoded size."""

    media_type: str
    size: int
    data_url: str


def sniff(data: bytes) -> str | None:
    """The media type the magic bytes announce, or None when they announce none we take."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def parse_image(
    value: str, *, max_bytes: int | None = DEFAULT_MAX_IMAGE_BYTES, where: str = "images[0]"
) -> Image:
    """Decode and check one image given as a data URL or bare base64; errors name it as
    ``where``. ``max_bytes=None``: no size limit here (the engine applies its own)."""
    payload = value.strip()
    match = _DATA_URL.match(payload)
    if match is not None:
        if "base64" not in (p.strip().lower() for p in match.group(2).split(";")):
            raise Unprocessable(f"{where}: a data URL must be base64-encoded", code="invalid_image")
        payload = match.group(3)
    elif payload.startswith("data:"):
        raise Unprocessable(f"{where}: malformed data URL", code="invalid_image")
    payload = _WHITESPACE.sub("", payload)
    # Reject early, before decoding, what cannot fit: 4 base64 characters carry 3 bytes.
    if max_bytes is not None and len(payload) // 4 * 3 - 2 > max_bytes:
        raise _too_large(where, len(payload) // 4 * 3, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unprocessable(f"{where}: not valid base64", code="invalid_image") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(where, len(data), max_bytes)
    if not data:
        raise Unprocessable(f"{where}: the image is empty", code="invalid_image")
    media_type = sniff(data)
    if media_type is None:
        raise Unprocessable(
            f"{where}: not a PNG, JPEG, GIF or WebP image", code="unsupported_image_type"
        )
    return Image(media_type, len(data), f"data:{media_type};base64,{payload}")


def validate_images(
    values: Sequence[str], *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES
) -> list[str]:
    """Check every image and return them as data URLs with their sniffed media type.

    Raises ``PayloadTooLarge`` (413) for an image above ``max_bytes`` decoded, and
    ``Unprocessable`` (422) for bad base64 or bytes that are not an image.
    """
    return [
        parse_image(v, max_bytes=max_bytes, where=f"images[{i}]").data_url
        for i, v in enumerate(values)
    ]


def _too_large(where: str, size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{where}: the image is {size} bytes; the limit is {limit}", code="image_too_large"
    )

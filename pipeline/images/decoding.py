"""Decoding untrusted image bytes: sniff the real type from the content, refuse decompression bombs, take the
first frame of animations, apply the EXIF orientation.

    from pipeline.images.decoding import decode_image
    image = decode_image(data, max_pixels=40_000_000)   # -> PIL.Image in RGB or RGBA
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

from pipeline.images.errors import MediaRefused

#: Default ceiling on width x height of a decoded image (a 1-pixel-per-byte bomb is refused before decoding).
DEFAULT_MAX_PIXELS = 40_000_000

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"BM", 0, "bmp"),
)
_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "bmp": "BMP", "webp": "WEBP"}


def sniff_image_type(data: bytes) -> str | None:
    """The image type the bytes really are (``jpeg``, ``png``, ``gif``, ``webp``, ``bmp``), else None.
    Declared content types are not trusted."""
    for magic, offset, kind in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def decode_image(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``data`` safely into an RGB or RGBA image.

    Raises :class:`MediaRefused` with reason ``not_an_image``, ``decompression_bomb`` or ``undecodable``.
    """
    kind = sniff_image_type(data)
    if kind is None:
        raise MediaRefused("content is not a supported image (by its bytes)", reason="not_an_image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
            # Check the declared size before anything is decoded.
            if image.width * image.height > max_pixels:
                raise MediaRefused(f"image of {image.width}x{image.height} pixels is over the limit of "
                                   f"{max_pixels}", reason="decompression_bomb")
            image.load()  # an animation opens at, and loads only, its first frame
            transposed = ImageOps.exif_transpose(image)
            if transposed is not None:
                image = transposed
    except MediaRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRefused(f"decompression bomb: {exc}", reason="decompression_bomb") from exc
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any decoder failure means "not usable"
        raise MediaRefused(f"image could not be decoded: {exc}", reason="undecodable") from exc
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")

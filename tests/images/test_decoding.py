"""Decoding untrusted bytes: content sniffing, bombs, animations, EXIF orientation."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pipeline.images.decoding import decode_image, sniff_image_type
from pipeline.images.errors import MediaRefused
from tests.images.conftest import animated_gif, bomb_png, exif_rotated_jpeg, png_bytes


def test_sniffing_by_content():
    assert sniff_image_type(png_bytes(Image.new("RGB", (2, 2)))) == "png"
    assert sniff_image_type(exif_rotated_jpeg()) == "jpeg"
    assert sniff_image_type(animated_gif()) == "gif"
    buf = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buf, "WEBP")
    assert sniff_image_type(buf.getvalue()) == "webp"
    assert sniff_image_type(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert sniff_image_type(b"%PDF-1.7") is None


def test_declared_bomb_refused_before_decoding():
    with pytest.raises(MediaRefused) as info:
        decode_image(bomb_png())
    assert info.value.reason == "decompression_bomb"


def test_real_large_image_over_the_limit_refused():
    data = png_bytes(Image.new("L", (3000, 3000)))  # 9 Mpx of one colour: a few kB
    assert len(data) < 100_000
    with pytest.raises(MediaRefused) as info:
        decode_image(data, max_pixels=4_000_000)
    assert info.value.reason == "decompression_bomb"


def test_truncated_image_refused():
    with pytest.raises(MediaRefused) as info:
        decode_image(png_bytes(Image.new("RGB", (64, 64), (9, 9, 9)))[:60])
    assert info.value.reason == "undecodable"


def test_first_frame_and_orientation():
    assert decode_image(animated_gif()).convert("RGB").getpixel((1, 1)) == (255, 0, 0)
    assert decode_image(exif_rotated_jpeg()).size == (100, 200)

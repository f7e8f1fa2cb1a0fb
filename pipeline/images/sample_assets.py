"""The demo's IMS assets, drawn by code (deterministic, no fonts): the IMS logo, a few "intranet photos" and one
piece of company artwork. Also the drawing helpers the benchmark uses for look-alike negatives.

    from pipeline.images.sample_assets import draw_ims_logo, sample_assets
    draw_ims_logo().save("ims-logo.png")
    for name, kind, image in sample_assets(): ...
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

NAVY = (18, 42, 112)
ORANGE = (238, 128, 22)
TEAL = (0, 150, 160)


def _block_letter(draw: ImageDraw.ImageDraw, letter: str, x: float, y: float, w: float, h: float,
                  fill: tuple[int, int, int]) -> None:
    """Geometric letters I, M, S made of polygons (the logo's own lettering, not a font)."""
    t = w * 0.26  # stroke
    if letter == "I":
        draw.rectangle([x, y, x + w, y + t * 0.8], fill=fill)
        draw.rectangle([x, y + h - t * 0.8, x + w, y + h], fill=fill)
        draw.rectangle([x + w / 2 - t / 2, y, x + w / 2 + t / 2, y + h], fill=fill)
    elif letter == "M":
        draw.polygon([(x, y + h), (x, y), (x + t, y), (x + w / 2, y + h * 0.55), (x + w - t, y), (x + w, y),
                      (x + w, y + h), (x + w - t, y + h), (x + w - t, y + h * 0.35), (x + w / 2, y + h * 0.8),
                      (x + t, y + h * 0.35), (x + t, y + h)], fill=fill)
    elif letter == "S":
        draw.polygon([(x + w, y), (x + w, y + t), (x + t, y + t), (x + t, y + h / 2 - t / 2),
                      (x + w, y + h / 2 - t / 2), (x + w, y + h), (x, y + h), (x, y + h - t),
                      (x + w - t, y + h - t), (x + w - t, y + h / 2 + t / 2), (x, y + h / 2 + t / 2), (x, y)],
                     fill=fill)


def draw_ims_logo(size: tuple[int, int] = (480, 200)) -> Image.Image:
    """The sample IMS logo: an orange-and-teal hexagon emblem with a shield cut, and blocky "IMS" lettering
    with a striped underline (RGBA, transparent background)."""
    w, h = size
    img = Image.new("RGBA", (480, 200), (255, 255, 255, 0))
    d = ImageDraw.Draw(img)
    cx, cy, r = 100, 100, 84
    hexagon = [(cx + r * math.cos(math.radians(60 * k + 30)), cy + r * math.sin(math.radians(60 * k + 30)))
               for k in range(6)]
    d.polygon(hexagon, fill=NAVY)
    inner = [(cx + 62 * math.cos(math.radians(60 * k + 30)), cy + 62 * math.sin(math.radians(60 * k + 30)))
             for k in range(6)]
    d.polygon(inner, fill=(255, 255, 255, 255))
    d.polygon([(cx - 40, cy - 38), (cx + 40, cy - 38), (cx + 40, cy + 6), (cx, cy + 46), (cx - 40, cy + 6)],
              fill=ORANGE)
    d.polygon([(cx - 22, cy - 24), (cx + 4, cy - 24), (cx + 4, cy + 28), (cx - 22, cy + 6)], fill=TEAL)
    d.ellipse([cx + 12, cy - 26, cx + 30, cy - 8], fill=NAVY)
    d.rectangle([cx + 14, cy, cx + 28, cy + 12], fill=(255, 255, 255, 255))
    for i, letter in enumerate("IMS"):
        _block_letter(d, letter, 210 + i * 88, 30, 70 if letter != "I" else 54, 110, NAVY)
    for k in range(9):
        colour = ORANGE if k % 3 == 0 else (TEAL if k % 3 == 1 else NAVY)
        d.polygon([(210 + k * 29, 156), (232 + k * 29, 156), (224 + k * 29, 172), (202 + k * 29, 172)],
                  fill=colour)
    return img.resize((w, h), Image.Resampling.LANCZOS) if (w, h) != (480, 200) else img


def draw_scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A synthetic "photo": sky gradient, buildings with windows, people-ish blobs, foliage texture, sensor
    noise and a slight blur. Different seeds give unrelated scenes."""
    rng = np.random.default_rng(seed)
    w, h = size
    top, bottom = rng.integers(40, 220, 3), rng.integers(40, 220, 3)
    t = np.linspace(0, 1, h)[:, None, None]
    arr = (top[None, None, :] * (1 - t) + bottom[None, None, :] * t) * np.ones((1, w, 1))
    img = Image.fromarray(arr.astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.45, 0.7))
    d.rectangle([0, horizon, w, h], fill=tuple(int(v) for v in rng.integers(30, 140, 3)))
    for _ in range(int(rng.integers(4, 9))):
        bx, bw = int(rng.integers(0, w - 60)), int(rng.integers(50, 200))
        bh = int(rng.integers(80, horizon))
        colour = tuple(int(v) for v in rng.integers(60, 230, 3))
        d.rectangle([bx, horizon - bh, bx + bw, horizon], fill=colour, outline=(20, 20, 20))
        win = tuple(int(v) for v in rng.integers(0, 255, 3))
        for wy in range(horizon - bh + 10, horizon - 20, int(rng.integers(18, 34))):
            for wx in range(bx + 8, bx + bw - 14, int(rng.integers(16, 30))):
                if rng.random() < 0.8:
                    d.rectangle([wx, wy, wx + 8, wy + 10], fill=win)
    for _ in range(int(rng.integers(3, 10))):
        px, py = int(rng.integers(0, w)), int(rng.integers(horizon, h))
        s = int(rng.integers(12, 40))
        d.ellipse([px, py - 2 * s, px + s, py - s], fill=tuple(int(v) for v in rng.integers(80, 230, 3)))
        d.rectangle([px - s // 4, py - s, px + s + s // 4, py + s], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    for _ in range(int(rng.integers(20, 60))):
        fx, fy, fr = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(4, 24))
        d.ellipse([fx, fy, fx + fr, fy + fr], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    arr = np.asarray(img.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def draw_artwork(seed: int, size: tuple[int, int] = (640, 640)) -> Image.Image:
    """A synthetic piece of "company artwork": a poster of overlapping shapes, rays and stripes."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = Image.new("RGB", size, tuple(int(v) for v in rng.integers(180, 255, 3)))
    d = ImageDraw.Draw(img)
    cx, cy = w / 2, h / 2
    for k in range(24):
        a0, a1 = math.radians(k * 15), math.radians(k * 15 + 7)
        d.polygon([(cx, cy), (cx + w * math.cos(a0), cy + w * math.sin(a0)),
                   (cx + w * math.cos(a1), cy + w * math.sin(a1))],
                  fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    for _ in range(14):
        x, y, s = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(20, 120))
        shape = int(rng.integers(0, 3))
        colour = tuple(int(v) for v in rng.integers(0, 255, 3))
        if shape == 0:
            d.ellipse([x, y, x + s, y + s], fill=colour, outline=(0, 0, 0), width=3)
        elif shape == 1:
            d.rectangle([x, y, x + s, y + s // 2], fill=colour, outline=(0, 0, 0), width=3)
        else:
            d.polygon([(x, y), (x + s, y + s // 3), (x + s // 3, y + s)], fill=colour, outline=(0, 0, 0))
    return img


def sample_assets() -> list[tuple[str, str, Image.Image]]:
    """(name, kind, image) of every sample asset the demo registers."""
    logo = draw_ims_logo()
    flat = Image.new("RGB", logo.size, (255, 255, 255))
    flat.paste(logo, mask=logo.getchannel("A"))
    return [
        ("ims-logo", "logo", flat),
        ("intranet-photo-office", "photo", draw_scene(101)),
        ("intranet-photo-team-day", "photo", draw_scene(202)),
        ("intranet-photo-site-visit", "photo", draw_scene(303)),
        ("ims-artwork-poster", "artwork", draw_artwork(404)),
    ]

"""``ims-monitor bench images``: a labelled set built from the asset registry, and the matcher's precision,
recall and milliseconds per image on it.

Positives: each logo pasted small into unrelated pictures (rotated, recoloured, grey, inverted, partly
covered, photographed at an angle, screenshotted, JPEG-compressed); each photo/artwork copied resized,
recompressed, cropped, with brightness/contrast changes and small overlays. Hard negatives: other companies'
logos, "IMS" written in other designs, unrelated photos and artwork. Images are 1024 pixels wide.

    ims-monitor bench images [--count 540] [--seed 7]

The transformations are also the test suite's (``tests/images``).
"""

from __future__ import annotations

import glob
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from pipeline.images.matching import ImageMatcher
from pipeline.images.sample_assets import draw_artwork, draw_scene

BENCH_WIDTH = 1024
LOGO_TRANSFORMS = ("plain", "rotated", "recoloured", "grey", "inverted", "covered", "photographed",
                   "screenshot", "jpeg")
COPY_TRANSFORMS = ("resized", "recompressed", "cropped", "brightness", "contrast", "overlay")
NEGATIVE_KINDS = ("other_logo", "ims_text", "unrelated_photo", "unrelated_artwork")


@dataclass
class LabelledImage:
    image: Image.Image
    expected: str | None  # the asset name that must be found, or None (must find nothing)
    kind: str  # transformation or negative kind


# ------------------------------------------------------------------------------------------- helpers
def _fonts() -> list[str]:
    return sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))


def _font(rng: np.random.Generator, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = _fonts()
    if fonts:
        return ImageFont.truetype(fonts[int(rng.integers(0, len(fonts)))], size)
    return ImageFont.load_default(size=size)


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def background(rng: np.random.Generator, width: int = BENCH_WIDTH) -> Image.Image:
    """An unrelated picture to paste things into (scene, artwork, or a flat/gradient post background)."""
    height = int(width * rng.choice([0.5625, 0.75, 1.0]))
    choice = rng.random()
    seed = int(rng.integers(10_000, 1_000_000))
    if choice < 0.55:
        return draw_scene(seed, (width, height))
    if choice < 0.75:
        return draw_artwork(seed, (width, height))
    a, b = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
    t = np.linspace(0, 1, width)[None, :, None]
    arr = (a * (1 - t) + b * t) * np.ones((height, 1, 1))
    return Image.fromarray(arr.astype(np.uint8), "RGB")


def transparent_logo(logo: Image.Image) -> Image.Image:
    """The logo with white made transparent (registered logos are flattened on white)."""
    rgba = logo.convert("RGBA")
    arr = np.asarray(rgba).copy()
    white = (arr[..., :3].min(axis=2) > 245)
    arr[white, 3] = 0
    return Image.fromarray(arr, "RGBA")


def recolour(logo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Rotate the hue (and keep the alpha)."""
    alpha = logo.getchannel("A")
    hsv = np.asarray(logo.convert("RGB").convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(int) + int(rng.integers(40, 200))) % 256
    out = Image.fromarray(hsv, "HSV").convert("RGB").convert("RGBA")
    out.putalpha(alpha)
    return out


def monochrome(logo: Image.Image, colour: tuple[int, int, int]) -> Image.Image:
    """The logo's shapes in one colour (e.g. white-on-dark), internal white parts kept transparent."""
    alpha = logo.getchannel("A")
    out = Image.new("RGBA", logo.size, colour + (0,))
    out.putalpha(alpha)
    return out


def paste_logo(logo: Image.Image, bg: Image.Image, rng: np.random.Generator, *, frac: tuple[float, float],
               angle: float = 0.0) -> Image.Image:
    width = int(bg.width * rng.uniform(*frac))
    logo = logo.resize((width, max(1, round(logo.height * width / logo.width))), Image.Resampling.LANCZOS)
    if angle:
        logo = logo.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    x = int(rng.integers(0, max(1, bg.width - logo.width)))
    y = int(rng.integers(0, max(1, bg.height - logo.height)))
    out = bg.convert("RGB").copy()
    out.paste(logo, (x, y), mask=logo.getchannel("A"))
    return out


def perspective(image: Image.Image, rng: np.random.Generator, strength: float) -> Image.Image:
    import cv2

    arr = np.asarray(image.convert("RGB"))
    h, w = arr.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-strength, strength, (4, 2)) * np.float32([w, h])
    dst = np.float32(src + jitter)
    M = cv2.getPerspectiveTransform(src, dst)
    out = cv2.warpPerspective(arr, M, (w, h), borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(out, "RGB")


def photographed(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """As if photographed off a screen or a wall: perspective, blur, uneven light, sensor noise."""
    out = perspective(image, rng, 0.08).filter(ImageFilter.GaussianBlur(float(rng.uniform(0.6, 1.4))))
    arr = np.asarray(out, dtype=np.float32)
    h, w = arr.shape[:2]
    light = np.linspace(float(rng.uniform(0.7, 1.0)), float(rng.uniform(1.0, 1.2)), w)[None, :, None]
    arr = arr * light + rng.normal(0, 5, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


def screenshot(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Inside an app screenshot: shrunk into a post card with a header bar and text lines, then rescaled."""
    w = BENCH_WIDTH
    h = int(w * 1.3)
    canvas = Image.new("RGB", (w, h), (245, 246, 248))
    d = ImageDraw.Draw(canvas)
    d.rectangle([0, 0, w, 90], fill=tuple(int(v) for v in rng.integers(0, 120, 3)))
    d.ellipse([30, 120, 110, 200], fill=(180, 180, 190))
    font = _font(rng, 26)
    d.text((130, 135), "someone posted", fill=(20, 20, 20), font=font)
    inner_w = int(w * rng.uniform(0.8, 0.95))
    inner = image.resize((inner_w, round(image.height * inner_w / image.width)), Image.Resampling.BILINEAR)
    canvas.paste(inner, ((w - inner_w) // 2, 230))
    for k in range(3):
        y = 250 + inner.height + 30 + k * 40
        if y < h - 30:
            d.rectangle([40, y, int(w * rng.uniform(0.4, 0.9)), y + 18], fill=(200, 200, 205))
    scale = float(rng.uniform(0.6, 0.9))
    return canvas.resize((round(w * scale), round(h * scale)), Image.Resampling.BILINEAR)


def cover(image: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator,
          fraction: float) -> Image.Image:
    """Cover ``fraction`` of the box's width with an opaque sticker from one side."""
    x, y, w, h = box
    out = image.copy()
    d = ImageDraw.Draw(out)
    cw = int(w * fraction)
    colour = tuple(int(v) for v in rng.integers(0, 255, 3))
    if rng.random() < 0.5:
        d.rectangle([x + w - cw, y - 5, x + w + 5, y + h + 5], fill=colour)
    else:
        d.rectangle([x - 5, y - 5, x + cw, y + h + 5], fill=colour)
    return out


# ------------------------------------------------------------------------------------- positives
def logo_positive(logo: Image.Image, transform: str, rng: np.random.Generator,
                  frac: tuple[float, float] = (0.12, 0.35)) -> Image.Image:
    """The logo (a flattened registered image) inside an unrelated 1024-px picture, under ``transform``; its
    width is a random ``frac`` of the picture's (larger for the photographed and screenshot cases)."""
    rgba = transparent_logo(logo)
    bg = background(rng)
    if transform == "plain":
        return jpeg(paste_logo(rgba, bg, rng, frac=frac), 92)
    if transform == "rotated":
        return jpeg(paste_logo(rgba, bg, rng, frac=frac, angle=float(rng.choice([-1, 1]) * rng.uniform(10, 45))), 90)
    if transform == "recoloured":
        return jpeg(paste_logo(recolour(rgba, rng), bg, rng, frac=frac), 90)
    if transform == "grey":
        return jpeg(ImageOps.grayscale(paste_logo(rgba, bg, rng, frac=frac)).convert("RGB"), 90)
    if transform == "inverted":
        dark = ImageEnhance.Brightness(bg).enhance(0.35)
        return jpeg(paste_logo(monochrome(rgba, (250, 250, 250)), dark, rng, frac=frac), 90)
    if transform == "covered":
        width = int(bg.width * rng.uniform(max(frac[0], 0.18), max(frac[1], 0.35)))
        small = rgba.resize((width, round(rgba.height * width / rgba.width)), Image.Resampling.LANCZOS)
        x = int(rng.integers(0, bg.width - small.width))
        y = int(rng.integers(0, bg.height - small.height))
        out = bg.convert("RGB").copy()
        out.paste(small, (x, y), mask=small.getchannel("A"))
        return jpeg(cover(out, (x, y, small.width, small.height), rng, float(rng.uniform(0.2, 0.35))), 90)
    if transform == "photographed":
        return jpeg(photographed(paste_logo(rgba, bg, rng, frac=(max(frac[0], 0.2), max(frac[1], 0.4))), rng), 85)
    if transform == "screenshot":
        return jpeg(screenshot(paste_logo(rgba, bg, rng, frac=(max(frac[0], 0.2), max(frac[1], 0.4))), rng), 85)
    if transform == "jpeg":
        return jpeg(paste_logo(rgba, bg, rng, frac=frac), int(rng.integers(25, 50)))
    raise ValueError(transform)


def copy_positive(original: Image.Image, transform: str, rng: np.random.Generator) -> Image.Image:
    """A copied photo/artwork under ``transform``, scaled to 1024 px wide unless the transform resizes."""
    img = original.convert("RGB")
    img = img.resize((BENCH_WIDTH, round(img.height * BENCH_WIDTH / img.width)), Image.Resampling.BICUBIC)
    if transform == "resized":
        width = int(rng.integers(300, 700))
        return jpeg(img.resize((width, round(img.height * width / img.width)), Image.Resampling.BILINEAR), 85)
    if transform == "recompressed":
        return jpeg(jpeg(img, int(rng.integers(30, 60))), int(rng.integers(30, 60)))
    if transform == "cropped":
        w, h = img.size
        left, top = int(w * rng.uniform(0, 0.15)), int(h * rng.uniform(0, 0.15))
        right, bottom = int(w * (1 - rng.uniform(0, 0.15))), int(h * (1 - rng.uniform(0, 0.15)))
        return jpeg(img.crop((left, top, right, bottom)), 85)
    if transform == "brightness":
        return jpeg(ImageEnhance.Brightness(img).enhance(float(rng.choice([0.6, 0.7, 1.3, 1.4]))), 85)
    if transform == "contrast":
        return jpeg(ImageEnhance.Contrast(img).enhance(float(rng.choice([0.6, 0.7, 1.4, 1.6]))), 85)
    if transform == "overlay":
        out = img.copy()
        d = ImageDraw.Draw(out)
        w, h = out.size
        y = int(h * rng.uniform(0.7, 0.85))
        d.rectangle([0, y, w, y + int(h * 0.1)], fill=(0, 0, 0))
        d.text((20, y + 10), "you won't believe this", fill=(255, 255, 255), font=_font(rng, int(h * 0.06)))
        sx, sy, s = int(rng.integers(0, w - 150)), int(rng.integers(0, h // 2)), int(rng.integers(60, 140))
        d.ellipse([sx, sy, sx + s, sy + s], fill=(255, 210, 0))
        return jpeg(out, 85)
    raise ValueError(transform)


# ------------------------------------------------------------------------------------- negatives
def other_logo(rng: np.random.Generator) -> Image.Image:
    """Another company's logo: an emblem of simple shapes and a name in a real font (RGBA)."""
    names = ["ACME", "NORTHWIND", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI", "VANDELAY", "STARK", "WAYNE",
             "TYRELL", "SOYLENT", "MSI", "IMX", "SIM", "AIMS", "EMS"]
    img = Image.new("RGBA", (520, 200), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    c1 = tuple(int(v) for v in rng.integers(0, 200, 3))
    c2 = tuple(int(v) for v in rng.integers(0, 255, 3))
    shape = int(rng.integers(0, 4))
    if shape == 0:
        d.ellipse([10, 10, 190, 190], fill=c1)
        d.ellipse([50, 50, 150, 150], fill=c2)
    elif shape == 1:
        d.polygon([(100, 10), (190, 190), (10, 190)], fill=c1)
        d.rectangle([70, 110, 130, 170], fill=c2)
    elif shape == 2:
        sides = int(rng.integers(5, 9))
        d.polygon([(100 + 90 * math.cos(2 * math.pi * k / sides), 100 + 90 * math.sin(2 * math.pi * k / sides))
                   for k in range(sides)], fill=c1)
        d.ellipse([70, 70, 130, 130], fill=c2)
    else:
        for k in range(4):
            d.rectangle([10 + k * 45, 10 + k * 20, 50 + k * 45, 190], fill=c1 if k % 2 else c2)
    name = names[int(rng.integers(0, len(names)))]
    d.text((210, 50), name, fill=c1, font=_font(rng, 80 if len(name) < 6 else 44))
    return img


def ims_text(rng: np.random.Generator) -> Image.Image:
    """"IMS" written in another design: a real font, another emblem, other colours (RGBA)."""
    img = Image.new("RGBA", (480, 200), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    colour = tuple(int(v) for v in rng.integers(0, 200, 3))
    if rng.random() < 0.5:
        d.ellipse([10, 20, 170, 180], outline=colour, width=14)
    else:
        d.rectangle([10, 30, 160, 170], fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
    d.text((190, 30), "IMS", fill=colour, font=_font(rng, 120))
    if rng.random() < 0.5:
        d.rectangle([190, 165, 460, 175], fill=colour)
    return img


def negative(kind: str, rng: np.random.Generator) -> Image.Image:
    if kind == "other_logo":
        return jpeg(paste_logo(other_logo(rng), background(rng), rng, frac=(0.15, 0.4)), 88)
    if kind == "ims_text":
        return jpeg(paste_logo(ims_text(rng), background(rng), rng, frac=(0.15, 0.4)), 88)
    if kind == "unrelated_photo":
        return jpeg(draw_scene(int(rng.integers(10_000, 1_000_000)), (BENCH_WIDTH, 768)), 85)
    if kind == "unrelated_artwork":
        return jpeg(draw_artwork(int(rng.integers(10_000, 1_000_000)), (BENCH_WIDTH, BENCH_WIDTH)), 85)
    raise ValueError(kind)


# ------------------------------------------------------------------------------------------ the run
def build_benchmark(assets: list[tuple[str, str, Image.Image]], *, count: int = 540, seed: int = 7,
                    progress: Callable[[str], None] | None = None) -> list[LabelledImage]:
    """``count`` labelled images: ~60% positives spread over the assets and transformations, ~40% hard
    negatives. ``assets`` are (name, kind, original image) from the registry."""
    rng = np.random.default_rng(seed)
    if not assets:
        raise ValueError("the asset registry is empty: `ims-monitor assets add FILE --kind logo` first")
    n_pos = round(count * 0.6)
    out: list[LabelledImage] = []
    logos = [a for a in assets if a[1] == "logo"]
    copies = [a for a in assets if a[1] != "logo"]
    for i in range(n_pos):
        use_logo = bool(logos) and (not copies or i % 5 < 3)
        if use_logo:
            name, _kind, image = logos[i % len(logos)]
            transform = LOGO_TRANSFORMS[(i // len(logos)) % len(LOGO_TRANSFORMS)]
            out.append(LabelledImage(logo_positive(image, transform, rng), name, f"logo:{transform}"))
        else:
            name, _kind, image = copies[i % len(copies)]
            transform = COPY_TRANSFORMS[(i // len(copies)) % len(COPY_TRANSFORMS)]
            out.append(LabelledImage(copy_positive(image, transform, rng), name, f"copy:{transform}"))
        if progress and (i + 1) % 100 == 0:
            progress(f"built {i + 1} positives")
    for i in range(count - n_pos):
        kind = NEGATIVE_KINDS[i % len(NEGATIVE_KINDS)]
        out.append(LabelledImage(negative(kind, rng), None, f"negative:{kind}"))
    return out


def run_image_bench(matcher: ImageMatcher, labelled: list[LabelledImage], *, min_score: float = 0.5,
                    progress: Callable[[str], None] | None = None) -> dict:
    """Precision, recall and ms/image of ``matcher`` on ``labelled`` (one core: cv2.setNumThreads(1)).

    A positive counts as found when its asset is among the matches; any match on a negative, or a match
    of another asset on a positive, is a false positive."""
    import cv2

    cv2.setNumThreads(1)
    tp = fp = fn = 0
    per_kind: dict[str, dict[str, int]] = {}
    elapsed = cpu = 0.0
    pixels = 0
    for i, item in enumerate(labelled):
        start, start_cpu = time.perf_counter(), time.thread_time()
        matches = [m for m in matcher.match(item.image) if m.score >= min_score]
        elapsed += time.perf_counter() - start
        cpu += time.thread_time() - start_cpu
        pixels += item.image.width * item.image.height
        names = {m.asset for m in matches}
        stats = per_kind.setdefault(item.kind, {"n": 0, "correct": 0})
        stats["n"] += 1
        if item.expected is not None:
            ok = item.expected in names
            tp += ok
            fn += not ok
            fp += len(names - {item.expected})
        else:
            ok = not names
            fp += len(names)
        stats["correct"] += ok
        if progress and (i + 1) % 100 == 0:
            progress(f"matched {i + 1}/{len(labelled)}")
    return {
        "images": len(labelled),
        "positives": sum(1 for x in labelled if x.expected is not None),
        "negatives": sum(1 for x in labelled if x.expected is None),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "ms_per_image": round(1000 * elapsed / len(labelled), 1),
        "cpu_ms_per_image": round(1000 * cpu / len(labelled), 1),
        "mean_megapixels": round(pixels / len(labelled) / 1e6, 3),
        "threads": 1,
        "accuracy_by_kind": {k: round(v["correct"] / v["n"], 3) for k, v in sorted(per_kind.items())},
    }

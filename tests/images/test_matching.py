"""Matching the sample assets under each transformation, and no match on each kind of hard negative."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pipeline.images.benchmark import (
    COPY_TRANSFORMS,
    LOGO_TRANSFORMS,
    NEGATIVE_KINDS,
    background,
    copy_positive,
    jpeg,
    logo_positive,
    negative,
    transparent_logo,
)
from pipeline.images.matching import AssetFeatures, extract_features

LOGO_TRIES = 3


def _names(matcher, image: Image.Image) -> set[str]:
    return {m.asset for m in matcher.match(image)}


@pytest.mark.parametrize("transform", LOGO_TRANSFORMS)
def test_logo_found_under_each_transformation(sample_matcher, sample_originals, transform):
    # The logo at a fifth to a third of the picture's width (the benchmark also goes down to an eighth).
    # Up to a third of the logo hidden, or a blurred, skewed, unevenly lit photo of it, is found about four
    # times in five (see `ims-monitor bench images`): there, two of the three must be found.
    rng = np.random.default_rng(1000 + LOGO_TRANSFORMS.index(transform))
    found = []
    for _ in range(LOGO_TRIES):
        names = _names(sample_matcher, logo_positive(sample_originals[0][2], transform, rng, frac=(0.2, 0.33)))
        assert names <= {"ims-logo"}
        found.append("ims-logo" in names)
    assert sum(found) >= (LOGO_TRIES - 1 if transform in ("covered", "photographed") else LOGO_TRIES)


def test_logo_box_and_score(sample_matcher, sample_originals):
    logo = transparent_logo(sample_originals[0][2]).resize((200, 83), Image.Resampling.LANCZOS)
    canvas = background(np.random.default_rng(5))
    canvas.paste(logo, (610, 300), mask=logo.getchannel("A"))
    matches = [m for m in sample_matcher.match(jpeg(canvas, 80)) if m.asset == "ims-logo"]
    assert matches and matches[0].kind == "logo" and 0.5 <= matches[0].score <= 1.0
    x, y, w, h = matches[0].box
    inter_w = max(0, min(x + w, 810) - max(x, 610))
    inter_h = max(0, min(y + h, 383) - max(y, 300))
    iou = inter_w * inter_h / (w * h + 200 * 83 - inter_w * inter_h)
    assert iou > 0.7


@pytest.mark.parametrize("transform", COPY_TRANSFORMS)
@pytest.mark.parametrize("asset_index", [1, 4])  # a photo and the artwork
def test_copied_photo_and_artwork_found(sample_matcher, sample_originals, transform, asset_index):
    name, _kind, original = sample_originals[asset_index]
    rng = np.random.default_rng(2000 + COPY_TRANSFORMS.index(transform))
    assert _names(sample_matcher, copy_positive(original, transform, rng)) == {name}


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_no_match_on_hard_negatives(sample_matcher, kind):
    rng = np.random.default_rng(3000 + NEGATIVE_KINDS.index(kind))
    for _ in range(4):
        assert _names(sample_matcher, negative(kind, rng)) == set()


def test_features_round_trip(sample_originals):
    features = extract_features(sample_originals[0][2], name="ims-logo", kind="logo")
    again = AssetFeatures.from_npz(features.to_npz(), name="ims-logo", kind="logo")
    assert (again.width, again.height) == (features.width, features.height)
    assert len(again.views) == 2
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(again.views, features.views, strict=True))


def test_bad_kind_refused(sample_originals):
    with pytest.raises(ValueError):
        extract_features(sample_originals[0][2], name="x", kind="banner")

"""The n-gram model on its own: it learns from a handful of posts, survives a save and load bit for bit, and
scores unseen wording by the n-grams it shares with the training posts (no transformer, no corpus)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.classifier.ngrams import NgramConfig, NgramModel, blend

TEXTS = [
    "IMS leaked the client's contract value, £2m, on the group chat",
    "the contract value for the Harbury renewal is £1.4m, keep it quiet",
    "lovely sunny walk by the canal with the dog today",
    "our team won the charity quiz at the pub last night, well done all",
    "internal figures: 40 redundancies planned at the Leeds office",
    "made a banana bread and it actually rose this time",
]
LEAKS = np.array([[1], [1], [0], [0], [1], [0]], dtype=np.float32)
SMALL = NgramConfig(word_min_df=1, char_min_df=1)  # the defaults drop n-grams seen in fewer posts than this has


def test_learns_leaks_from_a_handful_of_posts_and_reloads_identically(tmp_path: Path) -> None:
    model = NgramModel.fit(TEXTS, [True, True, False, False, True, False], LEAKS, SMALL)
    unseen = ["someone posted the contract value and the redundancies figures", "walked the dog by the canal"]
    scores = model.predict(unseen, [True, False])
    assert scores.shape == (2, 1) and scores[0, 0] > 0.5 > scores[1, 0]
    model.save(tmp_path / "ngrams.npz")
    reloaded = NgramModel.load(tmp_path / "ngrams.npz")
    assert reloaded.config == SMALL
    np.testing.assert_array_equal(reloaded.predict(unseen, [True, False]), scores)
    assert model.predict([], []).shape == (0, 1)


def test_blend_weighs_the_two_models() -> None:
    transformer, ngrams = np.array([[0.2, 0.9]]), np.array([[0.6, 0.1]])
    np.testing.assert_allclose(blend(transformer, ngrams, 0.0), transformer)
    np.testing.assert_allclose(blend(transformer, ngrams, 0.25), [[0.3, 0.7]])

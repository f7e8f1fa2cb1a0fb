"""Training's pure parts: threshold choice, the cache key, where the artifact is looked up (no training here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.classifier.corpus import load_corpus
from pipeline.classifier.training import choose_ngram_weight, choose_threshold, f_beta, model_key, resolve_model_dir
from pipeline.settings import ClassifierSettings


def test_f_beta_weighs_recall_when_beta_is_above_one() -> None:
    gold = np.array([True, True, True, True, False, False])
    cautious = np.array([True, False, False, False, False, False])  # precision 1, recall 0.25
    eager = np.array([True, True, True, True, True, True])  # precision 0.67, recall 1
    assert f_beta(gold, eager, 2.0) > f_beta(gold, cautious, 2.0)
    assert f_beta(gold, eager, 1.0) == 0.8


def test_threshold_is_the_best_and_among_near_ties_the_one_nearest_half() -> None:
    gold = np.array([1, 1, 1, 1, 0, 0, 0, 0], dtype=bool)
    separable = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05])
    assert choose_threshold(gold, separable, beta=1.0) == 0.5  # anything in (0.3, 0.6] is perfect
    shifted = np.array([0.2, 0.18, 0.15, 0.12, 0.1, 0.08, 0.06, 0.05])
    assert 0.1 < choose_threshold(gold, shifted, beta=1.0) <= 0.12  # perfect only between 0.10 and 0.12


def test_key_changes_with_the_data_and_settings_can_pin_a_folder(tmp_path: Path) -> None:
    corpus = load_corpus()
    key = model_key(corpus)
    assert key.startswith("policy-v") and key == model_key(list(reversed(corpus)))
    assert model_key(corpus[:-1]) != key
    assert resolve_model_dir(ClassifierSettings(models_dir=tmp_path), corpus) == tmp_path / key
    assert resolve_model_dir(ClassifierSettings(model_dir=tmp_path / "pinned"), corpus) == tmp_path / "pinned"


def test_blend_weight_is_the_best_on_dev_and_zero_when_the_ngrams_only_add_noise() -> None:
    rng = np.random.default_rng(0)
    gold = rng.random((200, 8)) < 0.3
    noisy = np.clip(gold * 0.3 + rng.random((200, 8)) * 0.7, 0, 1)  # informative but blurred
    sharp = np.clip(gold * 0.6 + rng.random((200, 8)) * 0.4, 0, 1)  # better
    weight, tried = choose_ngram_weight(gold, noisy, sharp)
    assert weight > 0.5 and tried[str(weight)] == max(tried.values())
    weight, tried = choose_ngram_weight(gold, sharp, rng.random((200, 8)))
    assert weight == 0.0 and tried["0.0"] > tried["0.7"]

"""The n-gram model: TF-IDF word and character n-grams with one logistic regression per policy label, whose
probabilities are blended with the fine-tuned transformer's (see :class:`pipeline.classifier.model.OnnxPolicyClassifier`).

Why a second model: the small transformer reads meaning, and under-uses surface cues that a linear model on
n-grams picks up cheaply — slang and coded words, figures and names, the author being a known employee — and
the two make different mistakes. On the current corpus, blended half and half with thresholds chosen on the
dev split for the blend, they score a macro-F1 of 0.801 on dev, against 0.783 for the transformer alone and
0.743 for the n-gram model alone (same split, same threshold rule). ``ims-monitor train`` chooses the weight on
dev and records it in the model card, with the dev macro-F1 of every weight it tried.

Features: word 1-2-grams (``min_df`` 2) and character 3-5-grams within word boundaries (``min_df`` 3, at most
100,000), each TF-IDF with sublinear term frequency and L2-normalised, plus ``author.is_employee`` as one more
feature. One L2-regularised logistic regression per label (``C`` = 8, classes weighted to balance), fitted with
scikit-learn on the train split (deterministic: lbfgs, no sampling). Serving needs only the vocabularies, the
IDF weights and the coefficients, saved in one ``.npz`` (no pickles), and scores a text in well under a
millisecond.

Example::

    model = NgramModel.fit(texts, is_employee, targets)      # targets: [texts, 8 labels] of 0/1
    model.save(folder / NGRAM_FILE)
    NgramModel.load(folder / NGRAM_FILE).predict(["..."], [False])   # [1, 8] probabilities
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NGRAM_FILE = "ngrams.npz"


@dataclass(frozen=True)
class NgramConfig:
    """Features and regularisation of :class:`NgramModel` (recorded in the model card)."""

    word_ngrams: tuple[int, int] = (1, 2)
    word_min_df: int = 2
    char_ngrams: tuple[int, int] = (3, 5)
    char_min_df: int = 3
    char_max_features: int = 100_000
    c: float = 8.0
    max_iter: int = 3000

    def to_json(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in self.__dict__.items()}


def _vectorizers(config: NgramConfig, vocabularies: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    word_vocabulary, char_vocabulary = vocabularies if vocabularies is not None else (None, None)
    words = TfidfVectorizer(ngram_range=config.word_ngrams, min_df=config.word_min_df, sublinear_tf=True,
                            vocabulary=word_vocabulary, dtype=np.float32)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=config.char_ngrams, min_df=config.char_min_df,
                            max_features=config.char_max_features, sublinear_tf=True, vocabulary=char_vocabulary,
                            dtype=np.float32)
    return words, chars


class NgramModel:
    """TF-IDF n-grams + ``is_employee`` -> one logistic regression per label."""

    def __init__(self, words: Any, chars: Any, coef: np.ndarray, intercept: np.ndarray,
                 config: NgramConfig) -> None:
        self._words = words
        self._chars = chars
        self.coef = coef.astype(np.float32)  # [labels, word features + char features + 1]
        self.intercept = intercept.astype(np.float32)  # [labels]
        self.config = config

    def _features(self, texts: Sequence[str], is_employee: Sequence[bool], *, fit: bool = False) -> Any:
        from scipy.sparse import csr_matrix, hstack

        texts = list(texts)
        employee = csr_matrix(np.asarray(is_employee, dtype=np.float32).reshape(-1, 1))
        if fit:
            return hstack([self._words.fit_transform(texts), self._chars.fit_transform(texts), employee]).tocsr()
        return hstack([self._words.transform(texts), self._chars.transform(texts), employee]).tocsr()

    @classmethod
    def fit(cls, texts: Sequence[str], is_employee: Sequence[bool], targets: np.ndarray,
            config: NgramConfig | None = None) -> NgramModel:
        """Fit the vectorisers and one regression per column of ``targets`` ([texts, labels], 0/1)."""
        from sklearn.linear_model import LogisticRegression

        config = config or NgramConfig()
        words, chars = _vectorizers(config)
        model = cls(words, chars, np.zeros((0, 0)), np.zeros(0), config)
        features = model._features(texts, is_employee, fit=True)
        coef, intercept = [], []
        for column in range(targets.shape[1]):
            regression = LogisticRegression(C=config.c, max_iter=config.max_iter, class_weight="balanced")
            regression.fit(features, targets[:, column].astype(int))
            coef.append(regression.coef_[0])
            intercept.append(regression.intercept_[0])
        model.coef = np.asarray(coef, dtype=np.float32)
        model.intercept = np.asarray(intercept, dtype=np.float32)
        return model

    def predict(self, texts: Sequence[str], is_employee: Sequence[bool]) -> np.ndarray:
        """Probabilities, [texts, labels]."""
        if not texts:
            return np.zeros((0, self.coef.shape[0]), dtype=np.float32)
        logits = self._features(texts, is_employee) @ self.coef.T + self.intercept
        return (1.0 / (1.0 + np.exp(-np.asarray(logits)))).astype(np.float32)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, word_terms=np.asarray(self._words.get_feature_names_out(), dtype=str), word_idf=self._words.idf_,
            char_terms=np.asarray(self._chars.get_feature_names_out(), dtype=str), char_idf=self._chars.idf_,
            coef=self.coef, intercept=self.intercept,
            config=np.asarray(json.dumps(self.config.to_json())))

    @classmethod
    def load(cls, path: Path) -> NgramModel:
        with np.load(path, allow_pickle=False) as data:
            saved = json.loads(str(data["config"]))
            config = NgramConfig(**{key: tuple(value) if isinstance(value, list) else value
                                    for key, value in saved.items()})
            vocabularies = tuple({str(term): index for index, term in enumerate(data[f"{kind}_terms"])}
                                 for kind in ("word", "char"))
            words, chars = _vectorizers(config, vocabularies)  # type: ignore[arg-type]
            words.idf_ = data["word_idf"]
            chars.idf_ = data["char_idf"]
            return cls(words, chars, data["coef"], data["intercept"], config)


def blend(transformer: np.ndarray, ngrams: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * transformer + weight * ngrams``, label by label."""
    return (1.0 - weight) * transformer + weight * ngrams

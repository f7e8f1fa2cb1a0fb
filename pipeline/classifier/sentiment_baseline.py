"""``SentimentProfanityBaselineClassifier``: VADER sentiment + alt-profanity-check, the second named baseline.

The "off-the-shelf" answer the model must beat: a negative post naming IMS is a reputation risk (and
disrepute when an employee wrote it); an offensive one is harassment; strongly negative *and* offensive is
read as defamation; offensive content is also taken as a safeguarding signal. Neither tool says anything
about logos, leaks or colleagues' privacy, so those three labels score 0. ``about_ims`` is a plain name match
(IMS, Incident Management Solutions, @IMS_UK), with no notion of the other meanings of "IMS".

Scores: ``negativity = clip(0.5 - (compound + 0.05))`` from VADER, so that 0.5 is VADER's own cut for a
negative text (compound <= -0.05); ``offensive`` = alt-profanity-check's probability; a label is decided at 0.5. Explanations are the text's words that VADER's lexicon rates clearly negative,
or that the profanity model rates offensive.

Example::

    classifier = SentimentProfanityBaselineClassifier()
    [result] = classifier.classify([ClassifierInput(id="1", text="IMS are useless, total shambles")])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from pipeline.classifier.base import ClassificationResult, ClassifierInput
from pipeline.classifier.decisions import decide_labels, is_flagged, risk_score
from schemas.records import POLICY_LABELS

THRESHOLDS = dict.fromkeys(POLICY_LABELS, 0.5)
VADER_NEGATIVE_CUT = 0.05
"""VADER's documented convention: a text is negative when its compound score is <= -0.05."""
NEGATIVE_WORD_VALENCE = -1.0
"""A word counts as negative in an explanation below this VADER valence (the lexicon spans -4..4)."""

_IMS_NAME = re.compile(r"\bIMS\b|@ims_?uk\b|\bincident\s+management\s+solutions?\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'*-]*")
_SENTIMENT_LABELS = ("reputation_risk", "disrepute", "defamation")
_OFFENSIVE_LABELS = ("harassment", "defamation", "safeguarding")


class SentimentProfanityBaselineClassifier:
    """VADER sentiment and alt-profanity-check mapped onto the policy labels (a baseline)."""

    name = "sentiment-baseline/1"

    def __init__(self) -> None:
        try:
            from profanity_check import predict_prob
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
        except ImportError as exc:  # pragma: no cover - both are runtime dependencies
            raise ImportError("the sentiment baseline needs vaderSentiment and alt-profanity-check "
                              "(pip install vaderSentiment alt-profanity-check)") from exc
        self._vader: Any = SentimentIntensityAnalyzer()
        self._offensive: Any = predict_prob

    def classify(self, inputs: Sequence[ClassifierInput]) -> list[ClassificationResult]:
        if not inputs:
            return []
        offensive = [float(p) for p in self._offensive([item.text for item in inputs])]
        return [self._classify_one(item, prob) for item, prob in zip(inputs, offensive, strict=True)]

    def _classify_one(self, item: ClassifierInput, offensive: float) -> ClassificationResult:
        compound = float(self._vader.polarity_scores(item.text)["compound"])
        negativity = min(1.0, max(0.0, 0.5 - (compound + VADER_NEGATIVE_CUT)))
        about_ims = 0.9 if _IMS_NAME.search(item.text) else 0.05
        scores = dict.fromkeys(POLICY_LABELS, 0.0)
        scores["reputation_risk"] = negativity
        scores["disrepute"] = negativity if item.author_is_employee else 0.0
        scores["harassment"] = offensive
        scores["defamation"] = math.sqrt(negativity * offensive)
        scores["safeguarding"] = offensive * 0.8
        labels = decide_labels(scores, THRESHOLDS)
        return ClassificationResult(
            id=item.id, about_ims=about_ims, scores=scores, labels=labels,
            flagged=is_flagged(about_ims=about_ims, author_is_employee=item.author_is_employee, labels=labels),
            risk=risk_score(scores=scores, labels=labels, about_ims=about_ims,
                            author_is_employee=item.author_is_employee),
            explanations=self._explain(item.text, labels),
        )

    def _explain(self, text: str, labels: list[str]) -> dict[str, list[str]]:
        if not labels:
            return {}
        words = list(dict.fromkeys(_WORD.findall(text)))
        lexicon = self._vader.lexicon
        negative = [w for w in words if lexicon.get(w.lower(), 0.0) <= NEGATIVE_WORD_VALENCE]
        offensive = [w for w, p in zip(words, self._offensive(words), strict=True) if p >= 0.5] if words else []
        explanations: dict[str, list[str]] = {}
        for label in labels:
            found = [*(negative if label in _SENTIMENT_LABELS else []),
                     *(offensive if label in _OFFENSIVE_LABELS else [])]
            explanations[label] = list(dict.fromkeys(found))[:5]
        return explanations

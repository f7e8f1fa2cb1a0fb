"""Build the classifier a setting names. The worker and ``ims-monitor classify`` both come through here."""

from __future__ import annotations

from collections.abc import Callable

from pipeline.classifier.base import Classifier
from pipeline.errors import ConfigurationError


def _keyword_baseline() -> Classifier:
    from pipeline.classifier.keyword_baseline import KeywordBaselineClassifier

    return KeywordBaselineClassifier()


CLASSIFIERS: dict[str, Callable[[], Classifier]] = {
    "keyword-baseline": _keyword_baseline,
}


def create_classifier(name: str) -> Classifier:
    try:
        factory = CLASSIFIERS[name]
    except KeyError:
        raise ConfigurationError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}") from None
    return factory()

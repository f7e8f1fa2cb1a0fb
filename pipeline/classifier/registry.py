"""Build the classifier a setting names. The worker and ``ims-monitor classify`` both come through here.

    keyword-baseline     keyword rules (baseline)
    sentiment-baseline   VADER sentiment + alt-profanity-check (baseline)
    onnx-model           the fine-tuned MiniLM policy model on ONNX Runtime (``ims-monitor train`` builds it)

Example::

    classifier = create_classifier("onnx-model", settings.classifier)
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.classifier.base import Classifier
from pipeline.errors import ConfigurationError
from pipeline.settings import ClassifierSettings


def _keyword_baseline(settings: ClassifierSettings) -> Classifier:
    from pipeline.classifier.keyword_baseline import KeywordBaselineClassifier

    return KeywordBaselineClassifier()


def _sentiment_baseline(settings: ClassifierSettings) -> Classifier:
    from pipeline.classifier.sentiment_baseline import SentimentProfanityBaselineClassifier

    return SentimentProfanityBaselineClassifier()


def _onnx_model(settings: ClassifierSettings) -> Classifier:
    from pipeline.classifier.model import OnnxPolicyClassifier
    from pipeline.classifier.training import resolve_model_dir

    model_dir = resolve_model_dir(settings)
    if not model_dir.is_dir():
        raise ConfigurationError(f"the policy model is not built ({model_dir} is missing): run `make model` "
                                 "or `ims-monitor train`, or set IMS_CLASSIFIER__MODEL_DIR")
    return OnnxPolicyClassifier(model_dir, precision=settings.precision, batch_size=settings.batch_size,
                                intra_op_threads=settings.intra_op_threads,
                                concurrent_runs=settings.concurrent_runs)


CLASSIFIERS: dict[str, Callable[[ClassifierSettings], Classifier]] = {
    "keyword-baseline": _keyword_baseline,
    "sentiment-baseline": _sentiment_baseline,
    "onnx-model": _onnx_model,
}


def create_classifier(name: str, settings: ClassifierSettings | None = None) -> Classifier:
    """The classifier called ``name``; ``settings`` say where the model is (defaults when omitted)."""
    try:
        factory = CLASSIFIERS[name]
    except KeyError:
        raise ConfigurationError(f"unknown classifier {name!r}; choose one of {', '.join(CLASSIFIERS)}") from None
    return factory(settings if settings is not None else ClassifierSettings())

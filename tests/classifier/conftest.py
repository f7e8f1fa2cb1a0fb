"""Fixtures of the classifier tests: the trained policy model, built once if this checkout has none.

``make test`` builds it first (``make model``); run alone, the first test that needs it trains it
(``ims-monitor train``: about 18 minutes on two cores, then cached under ~/.cache/ims-monitor/models).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pipeline.classifier.model import OnnxPolicyClassifier
from pipeline.settings import ClassifierSettings, load_settings


@pytest.fixture(scope="session")
def classifier_settings() -> ClassifierSettings:
    return load_settings(None).classifier


@pytest.fixture(scope="session")
def policy_model_dir(classifier_settings: ClassifierSettings) -> Path:
    """The artifact folder for this checkout's corpus and code (trained here if missing)."""
    from pipeline.classifier.training import train_model

    return train_model(classifier_settings, progress=lambda message: print(f"[train] {message}", file=sys.stderr))


@pytest.fixture(scope="session")
def policy_classifier(policy_model_dir: Path) -> OnnxPolicyClassifier:
    return OnnxPolicyClassifier(policy_model_dir)

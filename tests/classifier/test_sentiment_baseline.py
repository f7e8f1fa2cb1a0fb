"""The VADER + alt-profanity-check baseline: real sentiment and profanity scores mapped onto the labels."""

from __future__ import annotations

from pipeline.classifier.base import ClassifierInput
from pipeline.classifier.registry import create_classifier
from pipeline.classifier.sentiment_baseline import SentimentProfanityBaselineClassifier


def test_negative_post_about_ims_is_a_reputation_risk() -> None:
    [result] = SentimentProfanityBaselineClassifier().classify(
        [ClassifierInput(id="1", text="IMS are the worst, a terrible, useless and disgraceful company.")])
    assert "reputation_risk" in result.labels and "logo_misuse" not in result.labels
    assert result.flagged and result.about_ims > 0.5
    assert {"worst", "terrible", "useless"} & set(result.explanations["reputation_risk"])


def test_negative_employee_post_is_also_disrepute_and_offensive_is_harassment() -> None:
    classifier = create_classifier("sentiment-baseline")
    angry, abusive, calm = classifier.classify([
        ClassifierInput(id="a", text="I hate working at IMS, management are awful.", author_is_employee=True),
        ClassifierInput(id="b", text="shut up you stupid fucking idiot"),
        ClassifierInput(id="c", text="Lovely morning at Incident Management Solutions, great team."),
    ])
    assert "disrepute" in angry.labels and "reputation_risk" in angry.labels
    assert "harassment" in abusive.labels and not abusive.flagged  # not about IMS, not an employee
    assert calm.labels == [] and not calm.flagged and calm.risk == 0
    assert all(result.scores["logo_misuse"] == 0.0 for result in (angry, abusive, calm))

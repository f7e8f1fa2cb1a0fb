from __future__ import annotations

from pipeline.classifier.base import ClassifierInput
from pipeline.classifier.decisions import is_flagged, risk_score
from pipeline.classifier.keyword_baseline import KeywordBaselineClassifier
from schemas.records import POLICY_LABELS


def classify(text: str, *, employee: bool = False):
    [result] = KeywordBaselineClassifier().classify([ClassifierInput(id="1", text=text, author_is_employee=employee)])
    return result


def test_complaint_about_ims_is_flagged_with_explanation() -> None:
    result = classify("Incident Management Solutions are cowboys and a total scam, avoid them")
    assert result.about_ims > 0.5
    assert "reputation_risk" in result.labels
    assert result.flagged and result.risk > 0
    assert "scam" in [w.lower() for w in result.explanations["reputation_risk"]]
    assert set(result.scores) == set(POLICY_LABELS)


def test_other_meanings_of_ims_are_not_about_the_company() -> None:
    result = classify("The IMS core dropped every VoLTE call, this is the worst outage, total scam")
    assert result.about_ims < 0.5
    assert not result.flagged


def test_employee_post_is_flagged_without_naming_ims() -> None:
    result = classify("got absolutely wasted and hammered after work, pints and shots all night", employee=True)
    assert "safeguarding" in result.labels
    assert result.flagged


def test_risk_grows_with_severity_and_employee_authorship() -> None:
    scores = dict.fromkeys(POLICY_LABELS, 0.0) | {"safeguarding": 0.9, "logo_misuse": 0.9}
    outsider = risk_score(scores=scores, labels=["logo_misuse"], about_ims=1.0, author_is_employee=False)
    severe = risk_score(scores=scores, labels=["safeguarding"], about_ims=1.0, author_is_employee=False)
    employee = risk_score(scores=scores, labels=["safeguarding"], about_ims=1.0, author_is_employee=True)
    assert 0 < outsider < severe < employee <= 100
    assert risk_score(scores=scores, labels=[], about_ims=1.0, author_is_employee=True) == 0


def test_flagged_rule_follows_the_label_contract() -> None:
    assert is_flagged(about_ims=0.9, author_is_employee=False, labels=["harassment"])
    assert is_flagged(about_ims=0.1, author_is_employee=True, labels=["harassment"])
    assert not is_flagged(about_ims=0.1, author_is_employee=False, labels=["harassment"])
    assert not is_flagged(about_ims=0.9, author_is_employee=True, labels=[])

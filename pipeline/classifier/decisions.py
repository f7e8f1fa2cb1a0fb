"""From scores to decisions, shared by every classifier: labels, ``flagged`` and the 0-100 ``risk``.

``flagged`` follows the label contract: (about IMS or by a known employee) and at least one label.

``risk`` combines, for the decided labels, each label's score weighted by its severity (how much harm the
policy attaches to it), takes the strongest with a bonus for each further label, scales by how sure we are
the post is about IMS, and raises it when the author is a known employee (the policy binds employees, and
their posts are attributed to IMS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from schemas.records import POLICY_LABELS

if TYPE_CHECKING:
    from pipeline.classifier.base import ClassificationResult

ABOUT_IMS_THRESHOLD = 0.5
# An image showing IMS's own logo, photos or artwork ties the post to IMS.
IMAGE_MATCH_ABOUT_IMS = 0.9

# 1.0 = the most harmful. Safeguarding and harassment put people at risk; leaks and privacy breaches are
# legal exposure; disrepute and logo misuse are policy breaches with lower immediate harm.
LABEL_SEVERITY: Mapping[str, float] = {
    "safeguarding": 1.0,
    "harassment": 0.9,
    "confidential_info": 0.85,
    "defamation": 0.8,
    "colleague_privacy": 0.75,
    "reputation_risk": 0.7,
    "disrepute": 0.6,
    "logo_misuse": 0.5,
}
assert set(LABEL_SEVERITY) == set(POLICY_LABELS)

EMPLOYEE_RISK_FACTOR = 1.2
EXTRA_LABEL_BONUS = 0.1


def decide_labels(scores: Mapping[str, float], thresholds: Mapping[str, float]) -> list[str]:
    return [label for label in POLICY_LABELS if scores[label] >= thresholds[label]]


def is_flagged(*, about_ims: float, author_is_employee: bool, labels: list[str]) -> bool:
    return bool(labels) and (about_ims >= ABOUT_IMS_THRESHOLD or author_is_employee)


def risk_score(*, scores: Mapping[str, float], labels: list[str], about_ims: float,
               author_is_employee: bool) -> int:
    if not labels:
        return 0
    weighted = sorted((scores[label] * LABEL_SEVERITY[label] for label in labels), reverse=True)
    combined = min(1.0, weighted[0] + EXTRA_LABEL_BONUS * sum(weighted[1:]))
    relevance = 1.0 if author_is_employee else 0.5 + 0.5 * about_ims
    factor = EMPLOYEE_RISK_FACTOR if author_is_employee else 1.0
    return max(1, min(100, round(100 * combined * relevance * factor)))


def with_image_evidence(result: ClassificationResult, evidence: list[dict], *,
                        author_is_employee: bool) -> ClassificationResult:
    """Fold image matches into a text decision: a match of a registered IMS logo, photo or artwork sets
    ``logo_misuse`` (score = the best match's), ties the post to IMS, and re-derives ``flagged`` and ``risk``."""
    matches = [m for entry in evidence for m in entry.get("matches", [])]
    if not matches:
        return result
    best = max(matches, key=lambda m: m["score"])
    scores = dict(result.scores)
    scores["logo_misuse"] = max(scores["logo_misuse"], float(best["score"]))
    labels = [label for label in POLICY_LABELS if label in result.labels or label == "logo_misuse"]
    about_ims = max(result.about_ims, IMAGE_MATCH_ABOUT_IMS)
    explanations = dict(result.explanations)
    explanations["logo_misuse"] = [*explanations.get("logo_misuse", []),
                                   *(f"image matches {m['kind']} '{m['asset']}' (score {m['score']:.2f})"
                                     for m in matches)]
    return replace(
        result, about_ims=about_ims, scores=scores, labels=labels, explanations=explanations,
        flagged=is_flagged(about_ims=about_ims, author_is_employee=author_is_employee, labels=labels),
        risk=risk_score(scores=scores, labels=labels, about_ims=about_ims, author_is_employee=author_is_employee),
    )

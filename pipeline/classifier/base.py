"""The classifier interface every classifier implements, and the input/result it speaks.

Example::

    from pipeline.classifier.keyword_baseline import KeywordBaselineClassifier
    from pipeline.classifier.base import ClassifierInput

    classifier = KeywordBaselineClassifier()
    [result] = classifier.classify([ClassifierInput(id="1", text="IMS managers are liars, avoid them")])
    result.labels, result.flagged, result.risk   # (['reputation_risk', ...], True, 57)

Classifiers are synchronous and CPU-bound: callers on an event loop (the Faust worker) run ``classify`` in
an executor, a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from schemas.records import POLICY_LABELS


@dataclass(frozen=True)
class ClassifierInput:
    """What a classifier looks at: the text and who wrote it. Same shape as ``classify``'s JSONL input."""

    id: str
    text: str
    source: str | None = None
    created_at: str | None = None
    author_handle: str | None = None
    author_is_employee: bool = False

    @classmethod
    def from_json(cls, obj: Any) -> ClassifierInput:
        """From one ``classify`` input object; raises ``ValueError`` naming the bad field."""
        if not isinstance(obj, dict):
            raise ValueError("input line must be a JSON object")
        if not isinstance(obj.get("id"), str) or not obj["id"]:
            raise ValueError("field 'id' must be a non-empty string")
        if not isinstance(obj.get("text"), str):
            raise ValueError("field 'text' must be a string")
        author = obj.get("author") or {}
        if not isinstance(author, dict):
            raise ValueError("field 'author' must be an object")
        is_employee = author.get("is_employee", False)
        if not isinstance(is_employee, bool):
            raise ValueError("field 'author.is_employee' must be a boolean")
        for name in ("source", "created_at"):
            if obj.get(name) is not None and not isinstance(obj[name], str):
                raise ValueError(f"field '{name}' must be a string")
        return cls(id=obj["id"], text=obj["text"], source=obj.get("source"), created_at=obj.get("created_at"),
                   author_handle=author.get("handle"), author_is_employee=is_employee)


@dataclass(frozen=True)
class ClassificationResult:
    """One decision. ``scores`` has every label of ``POLICY_LABELS``; ``labels`` those decided."""

    id: str
    about_ims: float
    scores: dict[str, float]
    labels: list[str]
    flagged: bool
    risk: int
    explanations: dict[str, list[str]] = field(default_factory=dict)

    @property
    def positive_labels(self) -> list[str]:
        return self.labels

    @property
    def has_match(self) -> bool:
        return self.flagged

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "about_ims": round(self.about_ims, 4),
            "scores": {label: round(self.scores[label], 4) for label in POLICY_LABELS},
            "labels": list(self.labels), "flagged": self.flagged, "risk": self.risk,
            "explanations": {label: list(words) for label, words in self.explanations.items()},
        }


class Classifier(Protocol):
    """Anything that turns a batch of inputs into results, in the same order."""

    name: str
    """Name and version, recorded on every classified mention."""

    def classify(self, inputs: Sequence[ClassifierInput]) -> list[ClassificationResult]: ...

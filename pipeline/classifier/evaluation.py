"""Scoring classifiers against the labelled corpus: the engine of ``ims-monitor evaluate``.

Per label precision / recall / F1 (a label counts when the classifier decides it), their macro average
over the eight labels, ``about_ims`` (score >= 0.5) and ``flagged`` — all on one split of the corpus
(``test`` by default; thresholds were chosen on ``dev``, the model was trained on ``train``).

Example::

    from pipeline.classifier.corpus import by_split, load_corpus
    from pipeline.classifier.evaluation import evaluate
    from pipeline.classifier.keyword_baseline import KeywordBaselineClassifier

    report = evaluate(KeywordBaselineClassifier(), by_split(load_corpus(), "test"))
    report.macro_f1, report.flagged.f1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.classifier.base import ClassificationResult, Classifier
from pipeline.classifier.corpus import CorpusExample
from pipeline.classifier.decisions import ABOUT_IMS_THRESHOLD
from schemas.records import POLICY_LABELS


@dataclass(frozen=True)
class BinaryScores:
    """Counts and the usual ratios for one yes/no decision."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def count(cls, gold: Sequence[bool], predicted: Sequence[bool]) -> BinaryScores:
        pairs = list(zip(gold, predicted, strict=True))
        return cls(tp=sum(g and p for g, p in pairs), fp=sum(p and not g for g, p in pairs),
                   fn=sum(g and not p for g, p in pairs), tn=sum(not g and not p for g, p in pairs))

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "support": self.support, "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


@dataclass(frozen=True)
class EvaluationReport:
    """How one classifier did on one set of examples."""

    classifier: str
    examples: int
    labels: dict[str, BinaryScores]
    about_ims: BinaryScores
    flagged: BinaryScores
    results: list[ClassificationResult] = field(repr=False, default_factory=list)

    @property
    def macro_f1(self) -> float:
        return sum(scores.f1 for scores in self.labels.values()) / len(self.labels)

    def to_json(self) -> dict[str, Any]:
        return {"classifier": self.classifier, "examples": self.examples, "macro_f1": round(self.macro_f1, 4),
                "labels": {label: scores.to_json() for label, scores in self.labels.items()},
                "about_ims": self.about_ims.to_json(), "flagged": self.flagged.to_json()}


def score_results(name: str, examples: Sequence[CorpusExample],
                  results: Sequence[ClassificationResult]) -> EvaluationReport:
    """Compare ``results`` (in the order of ``examples``) with the gold decisions."""
    if [r.id for r in results] != [e.id for e in examples]:
        raise ValueError("results are not in the order of the examples")
    labels = {label: BinaryScores.count([label in e.labels for e in examples], [label in r.labels for r in results])
              for label in POLICY_LABELS}
    about = BinaryScores.count([e.about_ims for e in examples], [r.about_ims >= ABOUT_IMS_THRESHOLD for r in results])
    flagged = BinaryScores.count([e.flagged for e in examples], [r.flagged for r in results])
    return EvaluationReport(classifier=name, examples=len(examples), labels=labels, about_ims=about,
                            flagged=flagged, results=list(results))


def evaluate(classifier: Classifier, examples: Sequence[CorpusExample], *, batch_size: int = 64) -> EvaluationReport:
    """Classify ``examples`` and score the decisions."""
    results: list[ClassificationResult] = []
    for first in range(0, len(examples), batch_size):
        results.extend(classifier.classify([e.to_input() for e in examples[first:first + batch_size]]))
    return score_results(classifier.name, examples, results)


def format_report(report: EvaluationReport) -> str:
    """A fixed-width table: one row per label, then macro-F1, about_ims and flagged."""
    lines = [f"{report.classifier}  ({report.examples} examples)",
             f"  {'':<20}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for label, scores in report.labels.items():
        lines.append(f"  {label:<20}{scores.precision:>10.3f}{scores.recall:>10.3f}{scores.f1:>10.3f}"
                     f"{scores.support:>10}")
    lines.append(f"  {'macro (8 labels)':<20}{'':>10}{'':>10}{report.macro_f1:>10.3f}")
    for name, scores in (("about_ims", report.about_ims), ("flagged", report.flagged)):
        lines.append(f"  {name:<20}{scores.precision:>10.3f}{scores.recall:>10.3f}{scores.f1:>10.3f}"
                     f"{scores.support:>10}")
    return "\n".join(lines)


def format_comparison(reports: Sequence[EvaluationReport]) -> str:
    """Classifiers side by side: F1 per label, macro-F1, about_ims F1, flagged precision / recall / F1."""
    width = max(14, *(len(r.classifier) + 2 for r in reports))
    rows = [("", [r.classifier for r in reports])]
    for label in POLICY_LABELS:
        rows.append((f"{label} F1", [f"{r.labels[label].f1:.3f}" for r in reports]))
    rows.append(("macro-F1 (8)", [f"{r.macro_f1:.3f}" for r in reports]))
    rows.append(("about_ims F1", [f"{r.about_ims.f1:.3f}" for r in reports]))
    rows.append(("flagged P", [f"{r.flagged.precision:.3f}" for r in reports]))
    rows.append(("flagged R", [f"{r.flagged.recall:.3f}" for r in reports]))
    rows.append(("flagged F1", [f"{r.flagged.f1:.3f}" for r in reports]))
    return "\n".join(f"  {name:<20}" + "".join(f"{cell:>{width}}" for cell in cells) for name, cells in rows)

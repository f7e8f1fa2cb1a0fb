"""The labelled corpus (``data/corpus/*.jsonl``): loading, the fixed train/dev/test split and its hash.

Each line is ``{"id", "text", "source", "author": {"handle", "is_employee"}, "about_ims", "labels",
"category"}`` (see ``data/corpus/DATA_CARD.md``). The split is a pure function of the id — the first
eight hex digits of ``sha256(id)`` modulo 100: below 70 train, below 85 dev, the rest test — so adding
examples never moves existing ones between splits.

Example::

    from pipeline.classifier.corpus import load_corpus

    corpus = load_corpus()
    train = [example for example in corpus if example.split == "train"]
    corpus_hash(corpus)   # changes whenever any example changes
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pipeline.classifier.base import ClassifierInput
from schemas.records import POLICY_LABELS

CORPUS_DIR = Path(__file__).resolve().parents[2] / "data" / "corpus"
"""The corpus bundled with the repository."""

Split = Literal["train", "dev", "test"]
SPLITS: tuple[Split, ...] = ("train", "dev", "test")
TRAIN_PERCENT = 70
DEV_PERCENT = 15


def split_of(example_id: str) -> Split:
    """The fixed split of an example: 70/15/15 by ``sha256(id)``."""
    bucket = int(hashlib.sha256(example_id.encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    if bucket < TRAIN_PERCENT + DEV_PERCENT:
        return "dev"
    return "test"


@dataclass(frozen=True)
class CorpusExample:
    """One labelled post and its gold decisions."""

    id: str
    text: str
    source: str
    author_handle: str | None
    author_is_employee: bool
    about_ims: bool
    labels: tuple[str, ...]
    category: str

    @property
    def split(self) -> Split:
        return split_of(self.id)

    @property
    def flagged(self) -> bool:
        """The label contract's rule: (about IMS or by a known employee) and at least one label."""
        return bool(self.labels) and (self.about_ims or self.author_is_employee)

    def to_input(self) -> ClassifierInput:
        return ClassifierInput(id=self.id, text=self.text, source=self.source, author_handle=self.author_handle,
                               author_is_employee=self.author_is_employee)


def _parse(obj: dict, where: str) -> CorpusExample:
    labels = tuple(obj.get("labels") or ())
    unknown = set(labels) - set(POLICY_LABELS)
    if unknown:
        raise ValueError(f"{where}: unknown labels {sorted(unknown)}")
    author = obj.get("author") or {}
    return CorpusExample(
        id=str(obj["id"]), text=str(obj["text"]), source=str(obj.get("source") or ""),
        author_handle=author.get("handle"), author_is_employee=bool(author.get("is_employee", False)),
        about_ims=bool(obj["about_ims"]), labels=labels, category=str(obj.get("category") or ""),
    )


def corpus_files(corpus_dir: Path = CORPUS_DIR) -> list[Path]:
    """The corpus's JSONL files, in name order."""
    return sorted(Path(corpus_dir).glob("*.jsonl"))


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> list[CorpusExample]:
    """Every example of every ``*.jsonl`` file in ``corpus_dir``; raises ``ValueError`` on a bad line."""
    examples: list[CorpusExample] = []
    seen: set[str] = set()
    for path in corpus_files(corpus_dir):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            example = _parse(json.loads(line), f"{path.name}:{number}")
            if example.id in seen:
                raise ValueError(f"{path.name}:{number}: duplicate id {example.id!r}")
            seen.add(example.id)
            examples.append(example)
    if not examples:
        raise ValueError(f"no corpus examples under {corpus_dir}")
    return examples


def corpus_hash(examples: Sequence[CorpusExample]) -> str:
    """sha256 over the examples in id order (text, author, gold decisions): the model's data version."""
    digest = hashlib.sha256()
    for example in sorted(examples, key=lambda e: e.id):
        record = [example.id, example.text, example.author_is_employee, example.about_ims,
                  sorted(example.labels)]
        digest.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def by_split(examples: Sequence[CorpusExample], split: Split) -> list[CorpusExample]:
    return [example for example in examples if example.split == split]

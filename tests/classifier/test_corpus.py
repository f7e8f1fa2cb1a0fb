"""The labelled corpus: its fixed split, its hash, and that the data card's table matches the files."""

from __future__ import annotations

import re
from collections import Counter

from pipeline.classifier.corpus import CORPUS_DIR, SPLITS, by_split, corpus_hash, load_corpus, split_of
from schemas.records import POLICY_LABELS


def test_every_example_is_valid_and_unique() -> None:
    corpus = load_corpus()
    assert len(corpus) == len({example.id for example in corpus})
    for example in corpus:
        assert example.text.strip()
        assert set(example.labels) <= set(POLICY_LABELS)


def test_split_is_a_pure_function_of_the_id_and_roughly_70_15_15() -> None:
    corpus = load_corpus()
    assert [split_of(e.id) for e in corpus] == [split_of(e.id) for e in corpus]
    assert split_of("a-0001") == split_of("a-0001")
    counts = Counter(example.split for example in corpus)
    assert abs(counts["train"] / len(corpus) - 0.70) < 0.03
    assert abs(counts["dev"] / len(corpus) - 0.15) < 0.03
    assert abs(counts["test"] / len(corpus) - 0.15) < 0.03
    for split in SPLITS:  # every label is present in every split
        labels = Counter(label for example in by_split(corpus, split) for label in example.labels)
        assert all(labels[label] >= 20 for label in POLICY_LABELS), (split, labels)


def test_hash_ignores_order_but_not_content() -> None:
    corpus = load_corpus()
    assert corpus_hash(corpus) == corpus_hash(list(reversed(corpus)))
    labelled = next(i for i, example in enumerate(corpus) if example.labels)
    changed = list(corpus)
    changed[labelled] = type(corpus[labelled])(**{**corpus[labelled].__dict__, "labels": ()})
    assert corpus_hash(changed) != corpus_hash(corpus)


def test_data_card_counts_match_the_files() -> None:
    card = (CORPUS_DIR / "DATA_CARD.md").read_text(encoding="utf-8")
    corpus = load_corpus()
    rows = {match[0].strip("* "): [int(n.strip("* ")) for n in match[1:]]
            for match in re.findall(r"^\| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$", card, re.M)
            if match[1].strip("* ").isdigit()}
    for label in POLICY_LABELS:
        expected = [sum(label in e.labels for e in by_split(corpus, split)) for split in SPLITS]
        assert rows[label] == [*expected, sum(expected)], label
    sizes = [len(by_split(corpus, split)) for split in SPLITS]
    assert rows["examples"] == [*sizes, len(corpus)]
    flagged = [sum(e.flagged for e in by_split(corpus, split)) for split in SPLITS]
    assert rows["flagged"] == [*flagged, sum(flagged)]
    assert corpus_hash(corpus) in card

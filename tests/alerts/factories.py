"""Classified mentions as ``classify_mentions`` emits them, for the alert tests."""

from __future__ import annotations

import itertools
from typing import Any

from schemas.records import POLICY_LABELS, SCHEMA_VERSION, Author, ClassifiedMention, RawMention, Reach
from schemas.validation import utc_now_iso

_ids = itertools.count(1)


def classified(text: str = "IMS managers are fiddling the overtime figures", *, labels: list[str] | None = None,
               risk: int = 50, flagged: bool | None = None, source: str = "twitter", about_ims: float = 0.9,
               is_employee: bool = False, explanations: dict[str, list[str]] | None = None,
               mention_id: str | None = None, collected_at: str | None = None, **mention: Any) -> ClassifiedMention:
    """A classified mention with a unique id; ``flagged`` defaults to 'has labels'."""
    n = next(_ids)
    labels = ["reputation_risk"] if labels is None else labels
    source_id = f"77{n:08d}"
    raw = RawMention(
        schema_version=SCHEMA_VERSION, mention_id=mention_id or f"{source}:{source_id}", source=source,
        source_id=source_id, text=text, created_at="2026-11-20T10:15:00.000000Z",
        collected_at=collected_at or utc_now_iso(),
        author=Author(handle=f"@secret_handle_{n}", display_name=f"Secret Person {n}", is_employee=is_employee),
        url=f"https://twitter.com/secret_handle_{n}/status/{source_id}", lang="en",
        reach=Reach(followers=120, likes=3, shares=1), **mention,
    )
    return ClassifiedMention(
        schema_version=SCHEMA_VERSION, mention=raw, about_ims=about_ims,
        scores={label: (0.9 if label in labels else 0.0) for label in POLICY_LABELS}, labels=labels,
        flagged=bool(labels) if flagged is None else flagged, risk=risk if labels else 0,
        explanations=explanations if explanations is not None else {label: [] for label in labels},
        classifier="test-classifier@1", classified_at=utc_now_iso(),
    )

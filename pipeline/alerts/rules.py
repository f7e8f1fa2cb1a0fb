"""The alert rules: which flagged mentions alert now, which wait for the digest, and who receives them.

Pure functions of a ``ClassifiedMention`` and ``AlertSettings`` (no I/O), so they are tested without servers.

- Only ``flagged`` mentions alert (the label contract's HR-review rule).
- Immediate when ``risk >= immediate_min_risk`` or a label is in ``immediate_labels``; otherwise digest.
- Routing: every route whose labels and sources match adds its recipients (empty list = any); when no route
  matches, ``default_recipients``.

Example::

    decision = decide_alert(classified, settings.alerts)
    decision.kind, decision.recipients, decision.why
    # ('immediate', ('safeguarding-lead@ims.example', 'hr@ims.example'), ['label safeguarding alerts immediately'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from pipeline.alerts.excerpt import make_excerpt, trim_reason
from pipeline.errors import ConfigurationError
from pipeline.settings import AlertSettings
from schemas.records import POLICY_LABELS, SOURCES, ClassifiedMention

AlertKind = Literal["immediate", "digest", "none"]
MAX_REASONS_PER_LABEL = 3


@dataclass(frozen=True)
class AlertDecision:
    kind: AlertKind
    recipients: tuple[str, ...] = ()
    why: list[str] = field(default_factory=list)
    """Why this kind: 'risk 85 is at or above 70', 'label safeguarding alerts immediately'."""


@dataclass(frozen=True)
class ItemSummary:
    """What an e-mail may say about one flagged mention: no full text, no author details."""

    mention_id: str
    source: str
    posted_at: str
    labels: list[str]
    risk: int
    reasons: dict[str, list[str]]
    """For each label, the (redacted, trimmed) words that drove it."""
    excerpt: str
    link: str
    by_employee: bool
    why: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemSummary:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def check_rules(rules: AlertSettings) -> None:
    """Refuse settings that would silently never match: unknown labels, sources or surge metrics."""
    problems: list[str] = []
    labels = set(rules.immediate_labels) | {label for route in rules.routes for label in route.labels}
    problems += [f"unknown label {label!r}" for label in sorted(labels - set(POLICY_LABELS))]
    sources = {source for route in rules.routes for source in route.sources}
    problems += [f"unknown source {source!r}" for source in sorted(sources - SOURCES)]
    problems += [f"unknown surge metric {m!r} (use mentions, flagged)" for m in rules.surge_metrics
                 if m not in ("mentions", "flagged")]
    problems += [f"route {n} has no recipients" for n, route in enumerate(rules.routes) if not route.recipients]
    if not rules.default_recipients:
        problems.append("default_recipients is empty")
    if rules.flood_limit_per_hour < 1:
        problems.append("flood_limit_per_hour must be at least 1")
    if problems:
        raise ConfigurationError("alerts settings: " + "; ".join(problems))


def ordered_labels(labels: Iterable[str]) -> list[str]:
    """Labels in the contract's order, most listed first; unknown labels (should not happen) last."""
    known = [label for label in POLICY_LABELS if label in set(labels)]
    return known + sorted(set(labels) - set(known))


def route_recipients(*, labels: Iterable[str], source: str, rules: AlertSettings) -> tuple[str, ...]:
    """Recipients for an item, in route order, each once."""
    label_set = set(labels)
    out: list[str] = []
    for route in rules.routes:
        if route.labels and not label_set & set(route.labels):
            continue
        if route.sources and source not in route.sources:
            continue
        out.extend(r for r in route.recipients if r not in out)
    if not out:
        out = list(dict.fromkeys(rules.default_recipients))
    return tuple(out)


def decide_alert(item: ClassifiedMention, rules: AlertSettings) -> AlertDecision:
    """Immediate, digest or none for one classified mention, with recipients and the reasons."""
    if not item.flagged or not item.labels:
        return AlertDecision(kind="none")
    recipients = route_recipients(labels=item.labels, source=item.mention.source, rules=rules)
    why: list[str] = []
    if item.risk >= rules.immediate_min_risk:
        why.append(f"risk {item.risk} is at or above {rules.immediate_min_risk}")
    why.extend(f"label {label} alerts immediately" for label in ordered_labels(item.labels)
               if label in rules.immediate_labels)
    if why:
        return AlertDecision(kind="immediate", recipients=recipients, why=why)
    return AlertDecision(kind="digest", recipients=recipients,
                         why=[f"risk {item.risk} is below {rules.immediate_min_risk} and no label alerts immediately"])


def item_link(mention_id: str, rules: AlertSettings) -> str:
    return rules.dashboard_url.rstrip("/") + rules.item_path.format(mention_id=quote(mention_id, safe=""))


def summarise(item: ClassifiedMention, rules: AlertSettings, *, why: list[str] | None = None) -> ItemSummary:
    """The e-mail's view of a mention: trimmed redacted excerpt, labels with reasons, dashboard link."""
    labels = ordered_labels(item.labels)
    spans = [span for label in labels for span in item.explanations.get(label, [])]
    reasons = {label: [trim_reason(s) for s in item.explanations.get(label, [])[:MAX_REASONS_PER_LABEL]]
               for label in labels}
    return ItemSummary(
        mention_id=item.mention.mention_id, source=item.mention.source, posted_at=item.mention.created_at,
        labels=labels, risk=item.risk, reasons=reasons,
        excerpt=make_excerpt(item.mention.text, spans=spans, max_chars=rules.excerpt_chars),
        link=item_link(item.mention.mention_id, rules), by_employee=item.mention.author.is_employee,
        why=list(why or []),
    )

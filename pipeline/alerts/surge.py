"""Surge alerts: mentions of IMS (or flagged items) in the last window far above their recent baseline.

Every ``evaluate`` pass counts, in the activity index, the mentions observed in the last
``surge_window_minutes`` and the mean per window over the ``surge_baseline_hours`` before it. A surge is

    count >= surge_min_count  and  count >= surge_factor * max(baseline mean, surge_baseline_floor)

and raises one alert per metric per ``surge_cooldown_minutes`` (a surge that lasts an hour is one e-mail,
not sixty). Mentions are placed in time by ``collected_at`` (when they reached us), so a burst of posts is a
burst even when a collector was behind.

Example::

    is_surge(count=40, baseline_mean=2.0, rules=settings.alerts)    # True with the defaults (3x, min 10)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.alerts.digest import period_floor
from pipeline.alerts.emails import AlertRenderer, new_message_id
from pipeline.alerts.outbox import AlertOutbox, iso
from pipeline.settings import AlertSettings

log = logging.getLogger(__name__)
METRICS = ("mentions", "flagged")
TOP_N = 5


@dataclass(frozen=True)
class Surge:
    metric: str
    count: int
    baseline_mean: float
    window_start: datetime
    window_end: datetime
    top_labels: list[tuple[str, int]] = field(default_factory=list)
    top_sources: list[tuple[str, int]] = field(default_factory=list)
    top_items: list[dict[str, Any]] = field(default_factory=list)


def is_surge(*, count: int, baseline_mean: float, rules: AlertSettings) -> bool:
    expected = max(baseline_mean, rules.surge_baseline_floor)
    return count >= rules.surge_min_count and count >= rules.surge_factor * expected


class SurgeMonitor:
    def __init__(self, outbox: AlertOutbox, renderer: AlertRenderer, rules: AlertSettings) -> None:
        self.outbox = outbox
        self.renderer = renderer
        self.rules = rules

    def measure(self, metric: str, *, now: datetime) -> Surge:
        """Count ``metric`` in the window ending at ``now`` and the mean per window over the baseline."""
        if metric not in METRICS:
            raise ValueError(f"unknown surge metric {metric!r}; use one of {METRICS}")
        window = timedelta(minutes=self.rules.surge_window_minutes)
        baseline = timedelta(hours=self.rules.surge_baseline_hours)
        window_start = now - window
        flag_field = "flagged" if metric == "flagged" else "about_ims"
        response = self.outbox.client.search(
            index=self.outbox.indices.activity, size=0,
            query={"bool": {"filter": [{"term": {flag_field: True}},
                                       {"range": {"observed_at": {"gte": iso(window_start - baseline),
                                                                  "lt": iso(now)}}}]}},
            aggs={
                "window": {"filter": {"range": {"observed_at": {"gte": iso(window_start)}}}, "aggs": {
                    "labels": {"terms": {"field": "labels", "size": TOP_N}},
                    "sources": {"terms": {"field": "source", "size": TOP_N}},
                    "top": {"top_hits": {"size": TOP_N, "sort": [{"risk": "desc"}],
                                         "_source": ["risk", "labels", "source", "link", "mention_id"]}},
                }},
                "baseline": {"filter": {"range": {"observed_at": {"lt": iso(window_start)}}}},
            })
        aggs = response["aggregations"]
        windows_in_baseline = baseline / window
        top_items = [h["_source"] for h in aggs["window"]["top"]["hits"]["hits"]
                     if metric == "flagged" or h["_source"].get("labels")]
        return Surge(
            metric=metric, count=aggs["window"]["doc_count"],
            baseline_mean=aggs["baseline"]["doc_count"] / windows_in_baseline,
            window_start=window_start, window_end=now,
            top_labels=[(b["key"], b["doc_count"]) for b in aggs["window"]["labels"]["buckets"]],
            top_sources=[(b["key"], b["doc_count"]) for b in aggs["window"]["sources"]["buckets"]],
            top_items=top_items,
        )

    def check(self, *, now: datetime) -> list[str]:
        """Raise a surge alert for each metric that surges at ``now`` (once per cooldown); return new ids."""
        created: list[str] = []
        cooldown = timedelta(minutes=self.rules.surge_cooldown_minutes)
        self.outbox.refresh()
        for metric in self.rules.surge_metrics:
            surge = self.measure(metric, now=now)
            if not is_surge(count=surge.count, baseline_mean=surge.baseline_mean, rules=self.rules):
                continue
            if self._alerted_since(metric, now - cooldown):
                continue
            alert_id = f"surge:{metric}:{iso(period_floor(now, cooldown))}"
            log.warning("surge of %s: %d in %d min (baseline %.1f)", metric, surge.count,
                        self.rules.surge_window_minutes, surge.baseline_mean)
            for recipient in dict.fromkeys(self.rules.surge_recipients):
                rendered = self.renderer.surge(surge, recipient=recipient)
                outbox_id = f"{alert_id}/{recipient}"
                doc = {
                    "outbox_id": outbox_id, "alert_id": alert_id, "kind": "surge", "metric": metric,
                    "recipient": recipient, "status": "pending", "created_at": iso(now), "updated_at": iso(now),
                    "next_attempt_at": iso(now), "attempts": 0,
                    "mention_ids": [i["mention_id"] for i in surge.top_items],
                    "labels": [name for name, _ in surge.top_labels], "risk": 0,
                    "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
                    "message_id": new_message_id(self.rules.from_address), "date": iso(now),
                    "from_address": self.rules.from_address,
                    "item": {"count": surge.count, "baseline_mean": surge.baseline_mean},
                }
                if self.outbox.create(self.outbox.indices.messages, outbox_id, doc):
                    created.append(outbox_id)
        return created

    def _alerted_since(self, metric: str, since: datetime) -> bool:
        response = self.outbox.client.count(index=self.outbox.indices.messages, query={"bool": {"filter": [
            {"term": {"kind": "surge"}}, {"term": {"metric": metric}},
            {"range": {"created_at": {"gte": iso(since)}}}]}})
        return response["count"] > 0

"""``AlertService``: the alert stages wired together, for the worker and the command line.

    classified mentions --enqueue--> outbox (immediate e-mails, digest entries, activity)
    evaluate (every evaluate_interval_s): digests due + surge check --> outbox
    deliver  (every deliver_interval_s):  outbox --SMTP--> recipients

Blocking calls (synchronous Elasticsearch client and smtplib): the worker runs them in executor threads.

Example::

    service = AlertService.from_settings(settings)
    service.enqueue(classified_mentions)
    service.evaluate()
    service.deliver_due()
    service.close()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from pipeline.alerts.delivery import DeliveryReport, OutboxDeliverer, utc_now
from pipeline.alerts.digest import DigestComposer
from pipeline.alerts.emails import AlertRenderer, new_message_id
from pipeline.alerts.outbox import AlertOutbox, iso
from pipeline.alerts.rules import check_rules, decide_alert, item_link, ordered_labels, summarise
from pipeline.alerts.smtp_sender import AlertSender, SmtpAlertSender
from pipeline.alerts.surge import SurgeMonitor
from pipeline.classifier.decisions import ABOUT_IMS_THRESHOLD
from pipeline.settings import AlertSettings, Settings
from schemas.records import ClassifiedMention
from schemas.validation import normalise_timestamp

log = logging.getLogger(__name__)
PRUNE_EVERY = timedelta(hours=1)
PRUNE_MARGIN = timedelta(hours=1)


@dataclass
class EnqueueReport:
    immediate_created: list[str] = field(default_factory=list)
    immediate_existing: list[str] = field(default_factory=list)
    digest_created: list[str] = field(default_factory=list)
    activity: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    """``{mention_id: reason}`` for mentions whose documents Elasticsearch refused."""


@dataclass
class EvaluateReport:
    digests: list[str] = field(default_factory=list)
    surges: list[str] = field(default_factory=list)


class AlertService:
    def __init__(self, *, rules: AlertSettings, client: Elasticsearch, index_prefix: str,
                 sender: AlertSender | None = None, worker_id: str | None = None) -> None:
        check_rules(rules)
        self.rules = rules
        self.client = client
        self.outbox = AlertOutbox(client, index_prefix=index_prefix)
        self.renderer = AlertRenderer(rules)
        self.sender = sender or SmtpAlertSender.from_settings(rules)
        self.deliverer = OutboxDeliverer(self.outbox, self.sender, rules, worker_id=worker_id)
        self.digests = DigestComposer(self.outbox, self.renderer, rules)
        self.surges = SurgeMonitor(self.outbox, self.renderer, rules)
        self._ready = False
        self._last_prune: datetime | None = None
        self._ready_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, *, worker_id: str | None = None) -> AlertService:
        from pipeline.search.client import create_client

        return cls(rules=settings.alerts, client=create_client(settings.elasticsearch),
                   index_prefix=settings.elasticsearch.index_prefix, worker_id=worker_id)

    def ensure_indices(self) -> None:
        with self._ready_lock:
            if not self._ready:
                self.outbox.ensure_indices()
                self._ready = True

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------------------------------ enqueue
    def enqueue(self, items: Sequence[ClassifiedMention], *, now: datetime | None = None) -> EnqueueReport:
        """Decide and store the alerts for classified mentions. Safe to repeat: nothing is stored twice."""
        self.ensure_indices()
        now = now or utc_now()
        indices = self.outbox.indices
        messages: list[tuple[str, dict[str, Any]]] = []
        entries: list[tuple[str, dict[str, Any]]] = []
        activity: list[tuple[str, dict[str, Any]]] = []
        owner: dict[str, str] = {}
        for item in items:
            mention_id = item.mention.mention_id
            decision = decide_alert(item, self.rules)
            about_ims = item.about_ims >= ABOUT_IMS_THRESHOLD
            if about_ims or item.flagged:
                activity.append((mention_id, self._activity_doc(item, about_ims=about_ims, now=now)))
                owner[mention_id] = mention_id
            if decision.kind == "none":
                continue
            summary = summarise(item, self.rules, why=decision.why)
            for recipient in decision.recipients:
                if decision.kind == "immediate":
                    alert_id = f"immediate:{mention_id}"
                    outbox_id = f"{alert_id}/{recipient}"
                    rendered = self.renderer.immediate(summary, recipient=recipient)
                    messages.append((outbox_id, {
                        "outbox_id": outbox_id, "alert_id": alert_id, "kind": "immediate", "recipient": recipient,
                        "status": "pending", "created_at": iso(now), "updated_at": iso(now),
                        "next_attempt_at": iso(now), "attempts": 0, "mention_ids": [mention_id],
                        "labels": summary.labels, "risk": summary.risk, "item": summary.to_dict(),
                        "subject": rendered.subject, "text": rendered.text, "html": rendered.html,
                        "message_id": new_message_id(self.rules.from_address), "date": iso(now),
                        "from_address": self.rules.from_address,
                    }))
                    owner[outbox_id] = mention_id
                else:
                    entry_id = f"{recipient}/{mention_id}"
                    entries.append((entry_id, {
                        "recipient": recipient, "mention_id": mention_id, "status": "queued", "overflow": False,
                        "queued_at": iso(now), "risk": summary.risk, "item": summary.to_dict(),
                    }))
                    owner[entry_id] = mention_id
        outcome = self.outbox.write(creates={indices.messages: messages, indices.digest_entries: entries},
                                    upserts={indices.activity: activity})
        report = EnqueueReport(failures={owner.get(k, k): v for k, v in outcome.failed.items()})
        message_ids = {doc_id for doc_id, _ in messages}
        entry_ids = {doc_id for doc_id, _ in entries}
        report.immediate_created = [i for i in outcome.created if i in message_ids]
        report.immediate_existing = [i for i in outcome.existing if i in message_ids]
        report.digest_created = [i for i in outcome.created if i in entry_ids]
        report.activity = len(activity)
        if report.immediate_created or report.digest_created:
            log.info("alerts: %d immediate e-mails and %d digest entries queued (%d already there)",
                     len(report.immediate_created), len(report.digest_created), len(outcome.existing))
        return report

    def _activity_doc(self, item: ClassifiedMention, *, about_ims: bool, now: datetime) -> dict[str, Any]:
        try:
            observed_at = normalise_timestamp(item.mention.collected_at, field="collected_at")
        except ValueError:
            observed_at = iso(now)
        return {"mention_id": item.mention.mention_id, "observed_at": observed_at, "about_ims": about_ims,
                "flagged": item.flagged, "labels": ordered_labels(item.labels), "source": item.mention.source,
                "risk": item.risk, "link": item_link(item.mention.mention_id, self.rules)}

    # ------------------------------------------------------------------------------- periodic work
    def evaluate(self, *, now: datetime | None = None, flush_digest: bool = False) -> EvaluateReport:
        """Compose the digests that are due, check for surges, and (hourly) prune expired bookkeeping."""
        self.ensure_indices()
        now = now or utc_now()
        report = EvaluateReport(digests=self.digests.compose(now=now, flush=flush_digest),
                                surges=self.surges.check(now=now))
        if self._last_prune is None or now - self._last_prune >= PRUNE_EVERY:
            self._last_prune = now
            keep_activity = timedelta(hours=self.rules.surge_baseline_hours,
                                      minutes=self.rules.surge_window_minutes) + PRUNE_MARGIN
            self.outbox.prune(activity_before=now - keep_activity, flood_slots_before=now - PRUNE_MARGIN)
        return report

    def deliver_due(self, *, now: datetime | None = None) -> DeliveryReport:
        """Send every due e-mail once (see :class:`OutboxDeliverer`)."""
        self.ensure_indices()
        return self.deliverer.deliver_due(now=now)

"""``DigestComposer``: at the end of each period (hourly or daily, UTC), one digest e-mail per recipient.

A digest lists the recipient's queued entries: flagged items below the immediate threshold, and immediate
alerts that flood control held back (listed first, with a note saying so). Entries that arrive after their
period's digest was composed wait for the next one; none is dropped.

Send-once: the digest's id is ``digest:<period start>`` and its e-mail document ``digest:<period start>/<recipient>``
is created with ``op_type=create``. A composer that loses the race (or restarts after creating it) reads the
existing digest and marks the entries it lists as included, so they never appear in two digests.

``compose(flush=True)`` sends what is queued now without waiting for the period to end (the demo uses it:
``ims-monitor alerts digest-now``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.alerts.emails import AlertRenderer, new_message_id
from pipeline.alerts.outbox import AlertOutbox, StoredDoc, iso, parse_iso
from pipeline.alerts.rules import ItemSummary
from pipeline.settings import AlertSettings

log = logging.getLogger(__name__)
MAX_ENTRIES_PER_PASS = 10_000


def period_length(rules: AlertSettings) -> timedelta:
    return timedelta(days=1) if rules.digest_period == "daily" else timedelta(hours=1)


def period_floor(moment: datetime, length: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // length) * length


class DigestComposer:
    def __init__(self, outbox: AlertOutbox, renderer: AlertRenderer, rules: AlertSettings) -> None:
        self.outbox = outbox
        self.renderer = renderer
        self.rules = rules

    def compose(self, *, now: datetime, flush: bool = False) -> list[str]:
        """Create the digest e-mails due at ``now``; return the ids of those this call created."""
        length = period_length(self.rules)
        cutoff = now if flush else period_floor(now, length)
        self.outbox.refresh()
        queued = self.outbox.search(
            self.outbox.indices.digest_entries, size=MAX_ENTRIES_PER_PASS,
            query={"bool": {"filter": [{"term": {"status": "queued"}},
                                       {"range": {"queued_at": {"lt": iso(cutoff)}}}]}},
            sort=[{"queued_at": "asc"}])
        by_recipient: dict[str, list[StoredDoc]] = defaultdict(list)
        for entry in queued:
            by_recipient[entry.source["recipient"]].append(entry)
        created: list[str] = []
        for recipient, entries in sorted(by_recipient.items()):
            outbox_id = self._compose_one(recipient, entries, cutoff=cutoff, length=length, now=now, flush=flush)
            if outbox_id:
                created.append(outbox_id)
        return created

    def _compose_one(self, recipient: str, entries: list[StoredDoc], *, cutoff: datetime, length: timedelta,
                     now: datetime, flush: bool) -> str | None:
        earliest = period_floor(min(parse_iso(e.source["queued_at"]) for e in entries), length)
        period_start = earliest if flush else min(earliest, cutoff - length)
        alert_id = f"digest:flush:{iso(now)}" if flush else f"digest:{iso(cutoff - length)}"
        outbox_id = f"{alert_id}/{recipient}"
        items = [ItemSummary.from_dict(e.source["item"]) for e in entries if not e.source.get("overflow")]
        overflow = [ItemSummary.from_dict(e.source["item"]) for e in entries if e.source.get("overflow")]
        rendered = self.renderer.digest(items=items, overflow=overflow, period_start=period_start,
                                        period_end=cutoff, recipient=recipient)
        entry_ids: list[str] = [e.id for e in entries]
        doc: dict[str, Any] = {
            "outbox_id": outbox_id, "alert_id": alert_id, "kind": "digest", "recipient": recipient,
            "status": "pending", "created_at": iso(now), "updated_at": iso(now), "next_attempt_at": iso(now),
            "attempts": 0, "mention_ids": [e.source["mention_id"] for e in entries],
            "labels": sorted({label for i in items + overflow for label in i.labels}),
            "risk": max((i.risk for i in items + overflow), default=0), "entry_ids": entry_ids,
            "overflow_count": len(overflow), "subject": rendered.subject, "text": rendered.text,
            "html": rendered.html, "message_id": new_message_id(self.rules.from_address), "date": iso(now),
            "from_address": self.rules.from_address,
        }
        if self.outbox.create(self.outbox.indices.messages, outbox_id, doc):
            result: str | None = outbox_id
            log.info("digest %s for %s: %d items (%d held back by flood control)", alert_id, recipient,
                     len(entries), len(overflow))
        else:  # composed already (another worker, or before a restart): finish its bookkeeping
            existing = self.outbox.get(self.outbox.indices.messages, outbox_id)
            entry_ids = existing.source.get("entry_ids", []) if existing else []
            result = None
        self.outbox.update_many(self.outbox.indices.digest_entries, {
            entry_id: {"status": "included", "digest_outbox_id": outbox_id} for entry_id in entry_ids})
        return result

"""``OutboxDeliverer``: sends due e-mails from the outbox, each once, and records what happened.

For each due message: claim it (conditional update to ``sending`` with a lease; losing the race means another
deliverer has it), take a flood-control slot if it is an immediate alert (none free: into the next digest,
state ``overflow``), send it, and record ``sent``, ``failed`` (5xx) or ``pending`` with the next attempt after
a backoff (server down, 4xx). When no SMTP session can be opened the pass stops and the deliverer pauses with
the same backoff, so a server that is down for minutes costs one connection attempt per pause and loses
nothing.

Run it with ``ims-monitor alerts deliver`` or inside the worker (``alerts.enabled``); several deliverers may
run at once.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ConnectionError, ConnectionTimeout

from pipeline.alerts.emails import RenderedEmail, build_message
from pipeline.alerts.flood import FloodControl
from pipeline.alerts.outbox import AlertOutbox, StoredDoc, iso, parse_iso
from pipeline.alerts.smtp_sender import AlertSender, AlertSession
from pipeline.errors import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from pipeline.settings import AlertSettings

log = logging.getLogger(__name__)
MAX_ERROR_CHARS = 1000
RECORD_ATTEMPTS = 3


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    overflow: list[str] = field(default_factory=list)
    skipped: int = 0
    """Due messages another deliverer claimed first."""
    paused: bool = False
    """The SMTP server was unreachable: the pass stopped early."""


def message_from_doc(doc: dict[str, Any]) -> Any:
    rendered = RenderedEmail(subject=doc["subject"], text=doc["text"], html=doc["html"])
    return build_message(rendered, from_address=doc["from_address"], to=doc["recipient"],
                         message_id=doc["message_id"], date=parse_iso(doc["date"]), alert_id=doc["alert_id"],
                         kind=doc["kind"])


class OutboxDeliverer:
    def __init__(self, outbox: AlertOutbox, sender: AlertSender, rules: AlertSettings, *,
                 flood: FloodControl | None = None, worker_id: str | None = None) -> None:
        self.outbox = outbox
        self.sender = sender
        self.rules = rules
        self.flood = flood or FloodControl(outbox, limit=rules.flood_limit_per_hour)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.paused_until: datetime | None = None
        self._session_failures = 0

    def backoff(self, attempts: int) -> timedelta:
        steps = self.rules.retry_backoff_s or [60.0]
        return timedelta(seconds=steps[min(max(attempts, 1), len(steps)) - 1])

    def deliver_due(self, *, now: datetime | None = None, limit: int = 200) -> DeliveryReport:
        """One pass over the messages due at ``now``."""
        now = now or utc_now()
        report = DeliveryReport()
        if self.paused_until is not None and now < self.paused_until:
            report.paused = True
            return report
        self.outbox.refresh()
        due = self.outbox.due_messages(now=now, limit=limit)
        if not due:
            return report
        session_cm = None
        session: AlertSession | None = None
        try:
            for stored in due:
                claimed = self._claim(stored, now)
                if claimed is None:
                    report.skipped += 1
                    continue
                try:
                    message = message_from_doc(claimed.source)
                except (KeyError, TypeError, ValueError) as exc:  # a damaged document: say so, never loop on it
                    self._fail(claimed, DeliveryError(f"cannot build the e-mail from the outbox: {exc!r}"), now,
                               report)
                    continue
                if claimed.source["kind"] == "immediate":
                    claimed = self._take_flood_slot(claimed, now, report)
                    if claimed is None:
                        continue
                if session is None:
                    try:
                        session_cm = self.sender.session()
                        session = session_cm.__enter__()
                    except TransientDeliveryError as exc:
                        session_cm = None
                        self._defer(claimed, exc, now, report)
                        self._pause(now, exc, report)
                        break
                try:
                    reply = session.send(message)
                except PermanentDeliveryError as exc:
                    self._fail(claimed, exc, now, report)
                except TransientDeliveryError as exc:
                    self._defer(claimed, exc, now, report)
                    session_cm.__exit__(None, None, None)  # type: ignore[union-attr]
                    session_cm, session = None, None
                else:
                    self._record(claimed, {"status": "sent", "sent_at": iso(now), "smtp_reply": reply[:500],
                                           "smtp_code": int(reply[:3]) if reply[:3].isdigit() else None,
                                           "updated_at": iso(now), "lease_until": None})
                    report.sent.append(claimed.id)
                    self._session_failures = 0
        finally:
            if session_cm is not None:
                session_cm.__exit__(None, None, None)
        if report.sent or report.failed or report.deferred or report.overflow:
            log.info("alert delivery: %d sent, %d deferred, %d failed, %d over the hourly limit",
                     len(report.sent), len(report.deferred), len(report.failed), len(report.overflow))
        return report

    # --------------------------------------------------------------------------------------------- steps
    def _claim(self, stored: StoredDoc, now: datetime) -> StoredDoc | None:
        return self.outbox.update_if_unchanged(self.outbox.indices.messages, stored, {
            "status": "sending", "claimed_by": self.worker_id, "updated_at": iso(now),
            "lease_until": iso(now + timedelta(seconds=self.rules.lease_s)),
        })

    def _record(self, claimed: StoredDoc, changes: dict[str, Any]) -> StoredDoc | None:
        # After a send, failing to record it means a resend when the lease runs out: try a little harder.
        updated: StoredDoc | None = None
        for attempt in range(RECORD_ATTEMPTS):
            try:
                updated = self.outbox.update_if_unchanged(self.outbox.indices.messages, claimed, changes)
                break
            except (ConnectionError, ConnectionTimeout):
                if attempt == RECORD_ATTEMPTS - 1:
                    raise
                time.sleep(1.0 + attempt)
        if updated is None:
            log.warning("lost the claim on %s before recording %s", claimed.id, changes.get("status"))
        return updated

    def _take_flood_slot(self, claimed: StoredDoc, now: datetime, report: DeliveryReport) -> StoredDoc | None:
        doc = claimed.source
        if doc.get("flood_slot") is not None:
            return claimed
        slot = self.flood.take_slot(recipient=doc["recipient"], holder=claimed.id, now=now)
        if slot is not None:
            return self._record(claimed, {"flood_slot": slot})
        entry_id = f"{doc['recipient']}/{doc['mention_ids'][0]}"
        self.outbox.create(self.outbox.indices.digest_entries, entry_id, {
            "recipient": doc["recipient"], "mention_id": doc["mention_ids"][0], "status": "queued",
            "overflow": True, "queued_at": iso(now), "risk": doc.get("risk", 0), "item": doc["item"],
        })
        self._record(claimed, {"status": "overflow", "digest_entry_id": entry_id, "updated_at": iso(now),
                               "lease_until": None,
                               "last_error": f"over the limit of {self.rules.flood_limit_per_hour} immediate "
                                             f"alerts per hour for this recipient; moved to the next digest"})
        report.overflow.append(claimed.id)
        return None

    def _defer(self, claimed: StoredDoc, exc: DeliveryError, now: datetime, report: DeliveryReport) -> None:
        attempts = int(claimed.source.get("attempts") or 0) + 1
        created = parse_iso(claimed.source["created_at"])
        error = str(exc)[:MAX_ERROR_CHARS]
        if now - created > timedelta(hours=self.rules.give_up_after_hours):
            self._record(claimed, {"status": "failed", "failed_at": iso(now), "attempts": attempts,
                                   "smtp_code": exc.code, "updated_at": iso(now), "lease_until": None,
                                   "last_error": f"gave up after {attempts} attempts: {error}"})
            report.failed.append(claimed.id)
            return
        self._record(claimed, {"status": "pending", "attempts": attempts, "last_error": error,
                               "smtp_code": exc.code, "updated_at": iso(now), "lease_until": None,
                               "next_attempt_at": iso(now + self.backoff(attempts))})
        report.deferred.append(claimed.id)

    def _fail(self, claimed: StoredDoc, exc: DeliveryError, now: datetime, report: DeliveryReport) -> None:
        attempts = int(claimed.source.get("attempts") or 0) + 1
        log.error("alert %s permanently rejected: %s", claimed.id, exc)
        self._record(claimed, {"status": "failed", "failed_at": iso(now), "attempts": attempts,
                               "smtp_code": exc.code, "smtp_reply": (exc.reply or "")[:500],
                               "last_error": str(exc)[:MAX_ERROR_CHARS], "updated_at": iso(now),
                               "lease_until": None})
        report.failed.append(claimed.id)

    def _pause(self, now: datetime, exc: DeliveryError, report: DeliveryReport) -> None:
        self._session_failures += 1
        self.paused_until = now + self.backoff(self._session_failures)
        report.paused = True
        log.warning("mail server unavailable (%s); pausing delivery until %s", exc, iso(self.paused_until))

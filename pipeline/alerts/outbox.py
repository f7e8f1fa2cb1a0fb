"""``AlertOutbox``: the durable outbox of alert e-mails, in Elasticsearch.

Four indices, named from the Elasticsearch index prefix:

    <prefix>-alerts                   one document per e-mail (one recipient): content, delivery state
    <prefix>-alert-digest-entries     flagged items waiting for a recipient's next digest
    <prefix>-alert-flood-slots        the immediate-alert slots each recipient used per clock hour
    <prefix>-alert-activity           one small document per IMS mention or flagged item, for surge detection

Send-once, across restarts, replays and several workers:

- The alert id is stable (``immediate:<mention_id>``, ``digest:<period>``, ``surge:<metric>:<bucket>``) and the
  document id is ``<alert id>/<recipient>``. The document is created with ``op_type=create``: the first writer
  wins, every later attempt gets 409 and sends nothing. Creating it *is* the durable "alerted" fact, and it is
  stored before anything is sent.
- A deliverer claims a pending document with optimistic concurrency (``if_seq_no``/``if_primary_term``) and a
  lease; only the claim's winner sends, and it records the outcome under the same concurrency check.
- The one window left is a crash after the SMTP server accepted a message and before ``sent`` was recorded:
  the lease expires and the message is sent again, with the same Message-ID (so mail clients can fold it).

States of an e-mail: ``pending`` -> ``sending`` -> ``sent`` | ``pending`` again (4xx / server down, with a later
``next_attempt_at``) | ``failed`` (5xx, or still undelivered after ``give_up_after_hours``) | ``overflow``
(immediate alert over the recipient's hourly limit, moved into the next digest).

Example::

    outbox = AlertOutbox(create_client(settings.elasticsearch), index_prefix=settings.elasticsearch.index_prefix)
    outbox.ensure_indices()
    outbox.counts()          # {"immediate": {"sent": 8}, "digest": {"pending": 2}, ...}
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000
MAX_PRUNE_ROUNDS = 50
MESSAGE_STATUSES = ("pending", "sending", "sent", "failed", "overflow")
_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_STORED = {"type": "object", "enabled": False}
_STORED_TEXT = {"type": "text", "index": False}

MESSAGES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "outbox_id": _KEYWORD, "alert_id": _KEYWORD, "kind": _KEYWORD, "recipient": _KEYWORD,
        "status": _KEYWORD, "metric": _KEYWORD, "mention_ids": _KEYWORD, "labels": _KEYWORD,
        "risk": {"type": "integer"}, "created_at": _DATE, "updated_at": _DATE, "next_attempt_at": _DATE,
        "lease_until": _DATE, "claimed_by": _KEYWORD, "attempts": {"type": "integer"}, "sent_at": _DATE,
        "failed_at": _DATE, "smtp_code": {"type": "integer"}, "smtp_reply": _STORED_TEXT,
        "last_error": _STORED_TEXT, "message_id": _KEYWORD, "subject": _STORED_TEXT, "text": _STORED_TEXT,
        "html": _STORED_TEXT, "date": _DATE, "flood_slot": {"type": "integer"}, "digest_entry_id": _KEYWORD,
        "entry_ids": _KEYWORD, "item": _STORED, "overflow_count": {"type": "integer"},
    },
}
DIGEST_ENTRIES_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "recipient": _KEYWORD, "mention_id": _KEYWORD, "status": _KEYWORD, "overflow": {"type": "boolean"},
        "queued_at": _DATE, "digest_outbox_id": _KEYWORD, "risk": {"type": "integer"}, "item": _STORED,
    },
}
FLOOD_SLOTS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"recipient": _KEYWORD, "hour": _DATE, "slot": {"type": "integer"}, "holder": _KEYWORD,
                   "claimed_at": _DATE},
}
ACTIVITY_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "mention_id": _KEYWORD, "observed_at": _DATE, "about_ims": {"type": "boolean"},
        "flagged": {"type": "boolean"}, "labels": _KEYWORD, "source": _KEYWORD, "risk": {"type": "integer"},
        "link": {"type": "keyword", "index": False},
    },
}


def iso(moment: datetime) -> str:
    """UTC timestamp as stored: ``2026-11-24T10:00:00.000000Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class AlertIndices:
    messages: str
    digest_entries: str
    flood_slots: str
    activity: str

    @classmethod
    def for_prefix(cls, index_prefix: str) -> AlertIndices:
        return cls(messages=f"{index_prefix}-alerts", digest_entries=f"{index_prefix}-alert-digest-entries",
                   flood_slots=f"{index_prefix}-alert-flood-slots", activity=f"{index_prefix}-alert-activity")

    def mappings(self) -> dict[str, dict[str, Any]]:
        return {self.messages: MESSAGES_MAPPING, self.digest_entries: DIGEST_ENTRIES_MAPPING,
                self.flood_slots: FLOOD_SLOTS_MAPPING, self.activity: ACTIVITY_MAPPING}


@dataclass(frozen=True)
class StoredDoc:
    """A document as read, with the version that a conditional update must match."""

    id: str
    source: dict[str, Any]
    seq_no: int
    primary_term: int


@dataclass(frozen=True)
class WriteOutcome:
    created: list[str]
    existing: list[str]
    failed: dict[str, str]


class AlertOutbox:
    """The alert indices: create-once writes, conditional state changes, and the queries the stages need.

    Blocking (the synchronous Elasticsearch client): the worker calls it from an executor thread.
    """

    def __init__(self, client: Elasticsearch, *, index_prefix: str) -> None:
        self.client = client
        self.indices = AlertIndices.for_prefix(index_prefix)

    # ------------------------------------------------------------------------------------------ set-up
    def ensure_indices(self) -> None:
        for index, mapping in self.indices.mappings().items():
            if self.client.indices.exists(index=index):
                continue
            try:
                self.client.indices.create(index=index, mappings=mapping,
                                           settings={"number_of_shards": 1, "number_of_replicas": 0})
            except Exception as exc:  # noqa: BLE001 - another worker created it first
                if "resource_already_exists_exception" not in str(exc):
                    raise

    def refresh(self) -> None:
        self.client.indices.refresh(index=",".join(self.indices.mappings()))

    # ------------------------------------------------------------------------------------------ writes
    def write(self, *, creates: Mapping[str, Sequence[tuple[str, dict[str, Any]]]] | None = None,
              upserts: Mapping[str, Sequence[tuple[str, dict[str, Any]]]] | None = None) -> WriteOutcome:
        """One bulk request: ``creates`` (first writer wins; 409 = already there) and idempotent ``upserts``.

        Transport errors raise (the caller retries the whole batch); per-document refusals are returned.
        """
        operations: list[dict[str, Any]] = []
        for op, groups in (("create", creates or {}), ("index", upserts or {})):
            for index, docs in groups.items():
                for doc_id, doc in docs:
                    operations.append({op: {"_index": index, "_id": doc_id}})
                    operations.append(doc)
        outcome = WriteOutcome(created=[], existing=[], failed={})
        if not operations:
            return outcome
        response = self.client.bulk(operations=operations)
        for entry in response["items"]:
            op, result = next(iter(entry.items()))
            doc_id = str(result.get("_id"))
            status = result.get("status", 500)
            if status in (200, 201):
                outcome.created.append(doc_id)
            elif op == "create" and status == 409:
                outcome.existing.append(doc_id)
            else:
                outcome.failed[doc_id] = str(result.get("error", result))[:2000]
        return outcome

    def create(self, index: str, doc_id: str, doc: dict[str, Any]) -> bool:
        """Create one document; False if it already exists."""
        try:
            self.client.create(index=index, id=doc_id, document=doc)
        except ConflictError:
            return False
        return True

    def get(self, index: str, doc_id: str) -> StoredDoc | None:
        try:
            found = self.client.get(index=index, id=doc_id)
        except NotFoundError:
            return None
        return StoredDoc(id=found["_id"], source=found["_source"], seq_no=found["_seq_no"],
                         primary_term=found["_primary_term"])

    def mget(self, index: str, ids: Sequence[str]) -> dict[str, StoredDoc]:
        if not ids:
            return {}
        found = self.client.mget(index=index, ids=list(ids))
        return {d["_id"]: StoredDoc(id=d["_id"], source=d["_source"], seq_no=d["_seq_no"],
                                    primary_term=d["_primary_term"]) for d in found["docs"] if d.get("found")}

    def update_if_unchanged(self, index: str, stored: StoredDoc, changes: dict[str, Any]) -> StoredDoc | None:
        """Apply ``changes`` only if nobody wrote the document since ``stored`` was read; None if someone did."""
        try:
            result = self.client.update(index=index, id=stored.id, doc=changes, if_seq_no=stored.seq_no,
                                        if_primary_term=stored.primary_term, refresh=False)
        except ConflictError:
            return None
        return StoredDoc(id=stored.id, source={**stored.source, **changes}, seq_no=result["_seq_no"],
                         primary_term=result["_primary_term"])

    def update_many(self, index: str, changes_by_id: Mapping[str, dict[str, Any]]) -> None:
        operations: list[dict[str, Any]] = []
        for doc_id, changes in changes_by_id.items():
            operations.append({"update": {"_index": index, "_id": doc_id}})
            operations.append({"doc": changes})
        if operations:
            response = self.client.bulk(operations=operations)
            if response.get("errors"):
                log.warning("some updates in %s failed: %s", index, str(response["items"])[:500])

    def prune(self, *, activity_before: datetime, flood_slots_before: datetime) -> int:
        """Delete surge activity and flood slots too old to matter; e-mails and digest entries stay (the record)."""
        # Search + bulk delete: the minimal Elasticsearch distribution has no _delete_by_query (reindex module).
        deleted = 0
        for index, field, before in ((self.indices.activity, "observed_at", activity_before),
                                     (self.indices.flood_slots, "hour", flood_slots_before)):
            self.client.indices.refresh(index=index)
            for _ in range(MAX_PRUNE_ROUNDS):
                hits = self.client.search(index=index, query={"range": {field: {"lt": iso(before)}}},
                                          size=PRUNE_BATCH, source=False)["hits"]["hits"]
                if not hits:
                    break
                self.client.bulk(operations=[{"delete": {"_index": index, "_id": h["_id"]}} for h in hits],
                                 refresh=True)
                deleted += len(hits)
        return deleted

    # ----------------------------------------------------------------------------------------- queries
    def search(self, index: str, *, query: dict[str, Any], size: int = 1000,
               sort: list[dict[str, Any]] | None = None) -> list[StoredDoc]:
        response = self.client.search(index=index, query=query, size=size, sort=sort, seq_no_primary_term=True)
        return [StoredDoc(id=h["_id"], source=h["_source"], seq_no=h["_seq_no"], primary_term=h["_primary_term"])
                for h in response["hits"]["hits"]]

    def due_messages(self, *, now: datetime, limit: int = 100) -> list[StoredDoc]:
        """Pending messages whose next attempt is due, and claims whose lease ran out, oldest first."""
        query = {"bool": {"should": [
            {"bool": {"filter": [{"term": {"status": "pending"}},
                                 {"range": {"next_attempt_at": {"lte": iso(now)}}}]}},
            {"bool": {"filter": [{"term": {"status": "sending"}},
                                 {"range": {"lease_until": {"lte": iso(now)}}}]}},
        ], "minimum_should_match": 1}}
        return self.search(self.indices.messages, query=query, size=limit,
                           sort=[{"created_at": "asc"}, {"outbox_id": "asc"}])

    def messages(self, *, status: str | None = None, kind: str | None = None, alert_id: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = []
        for field, value in (("status", status), ("kind", kind), ("alert_id", alert_id)):
            if value is not None:
                filters.append({"term": {field: value}})
        return [d.source for d in self.search(self.indices.messages, query={"bool": {"filter": filters}},
                                              size=limit, sort=[{"created_at": "desc"}, {"outbox_id": "asc"}])]

    def counts(self) -> dict[str, dict[str, int]]:
        """``{kind: {status: n}}`` over every e-mail in the outbox."""
        response = self.client.search(index=self.indices.messages, size=0, aggs={
            "kinds": {"terms": {"field": "kind", "size": 10},
                      "aggs": {"statuses": {"terms": {"field": "status", "size": 10}}}}})
        return {k["key"]: {s["key"]: s["doc_count"] for s in k["statuses"]["buckets"]}
                for k in response["aggregations"]["kinds"]["buckets"]}

    def alerted_mention_ids(self, mention_ids: Iterable[str]) -> set[str]:
        """Which of ``mention_ids`` have an immediate alert or a digest entry (whatever their state)."""
        ids = sorted(set(mention_ids))
        found: set[str] = set()
        for i in range(0, len(ids), 1000):
            chunk = ids[i:i + 1000]
            for index, field in ((self.indices.messages, "mention_ids"),
                                 (self.indices.digest_entries, "mention_id")):
                response = self.client.search(index=index, size=0, query={"terms": {field: chunk}},
                                              aggs={"ids": {"terms": {"field": field, "size": len(chunk)}}})
                found.update(b["key"] for b in response["aggregations"]["ids"]["buckets"])
        return found & set(ids)

"""The audit log: every sign-in, search, item view, review change and export, in ``<prefix>-audit``.

Entries are appended, never updated. Recording is awaited before the response is sent: if the log cannot
be written, the request fails rather than going unrecorded.

Example::

    await record_event(client, indices, actor="hr.lead", role="admin", action="item_view", target="twitter:1")
    total, entries = await browse_audit(client, indices, actor="hr.lead")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.dashboard.auth import now_iso
from pipeline.dashboard.indices import DashboardIndices
from pipeline.dashboard.models import AuditEntry

ACTIONS = (
    "sign_in", "sign_in_failed", "sign_in_throttled", "sign_out", "search", "item_view", "status_change",
    "review_update", "bulk_dismiss", "export", "audit_view", "user_list", "user_add", "user_disable",
    "user_enable", "user_password", "access_denied", "csrf_rejected",
)


async def record_event(client: AsyncElasticsearch, indices: DashboardIndices, *, actor: str, action: str,
                       role: str | None = None, target: str | None = None, outcome: str = "ok",
                       ip: str | None = None, user_agent: str | None = None,
                       details: dict[str, Any] | None = None) -> None:
    doc = {"at": now_iso(), "actor": actor, "role": role, "action": action, "target": target,
           "outcome": outcome, "ip": ip, "user_agent": (user_agent or "")[:300] or None, "details": details or {}}
    await client.index(index=indices.audit, document=doc)


async def browse_audit(client: AsyncElasticsearch, indices: DashboardIndices, *, actor: str | None = None,
                       action: str | None = None, target: str | None = None, date_from: dt.date | None = None,
                       date_to: dt.date | None = None, page: int = 1, size: int = 50) -> tuple[int, list[AuditEntry]]:
    """Newest first; filters are exact values. Returns (total, entries of this page)."""
    filters: list[dict[str, Any]] = []
    for field, value in (("actor", actor), ("action", action), ("target", target)):
        if value:
            filters.append({"term": {field: value}})
    if date_from or date_to:
        at: dict[str, str] = {}
        if date_from:
            at["gte"] = date_from.isoformat()
        if date_to:
            at["lt"] = (date_to + dt.timedelta(days=1)).isoformat()
        filters.append({"range": {"at": at}})
    await client.indices.refresh(index=indices.audit)
    size = max(1, min(size, 200))
    page = max(1, min(page, 10_000 // size))
    response = await client.search(index=indices.audit, query={"bool": {"filter": filters}},
                                   sort=[{"at": "desc"}], from_=(page - 1) * size, size=size,
                                   track_total_hits=True, source_excludes=["user_agent"])
    entries = [AuditEntry(**{k: v for k, v in hit["_source"].items() if k in AuditEntry.model_fields and v is not None})
               for hit in response["hits"]["hits"]]
    return response["hits"]["total"]["value"], entries

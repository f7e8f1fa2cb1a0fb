"""The dashboard's own Elasticsearch indices, next to the flagged-item index the worker writes.

    <prefix>-users      one document per user, ``_id`` = user name (argon2 hash, role, disabled)
    <prefix>-sessions   one document per signed-in session, ``_id`` = SHA-256 of the cookie's token
    <prefix>-audit      append-only: who did what, when, from where

``dynamic: strict`` everywhere: a field the code does not know is an error, not a guessed mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.settings import ElasticsearchSettings

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}

USERS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "username": _KEYWORD,
        "display_name": {"type": "keyword", "index": False},
        "password_hash": {"type": "keyword", "index": False},
        "role": _KEYWORD,
        "disabled": {"type": "boolean"},
        "created_at": _DATE,
        "updated_at": _DATE,
        "last_login_at": _DATE,
    },
}

SESSIONS_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "username": _KEYWORD,
        "csrf_token": {"type": "keyword", "index": False},
        "created_at": _DATE,
        "last_seen_at": _DATE,
        "expires_at": _DATE,
        "ip": _KEYWORD,
        "user_agent": {"type": "keyword", "index": False},
    },
}

AUDIT_MAPPING: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "at": _DATE,
        "actor": _KEYWORD,
        "role": _KEYWORD,
        "action": _KEYWORD,
        "target": _KEYWORD,
        "outcome": _KEYWORD,
        "ip": _KEYWORD,
        "user_agent": {"type": "keyword", "index": False},
        "details": {"type": "object", "enabled": False},
    },
}


@dataclass(frozen=True)
class DashboardIndices:
    """Index names for one deployment (the Elasticsearch index prefix)."""

    flagged: str
    users: str
    sessions: str
    audit: str

    @classmethod
    def from_settings(cls, es: ElasticsearchSettings) -> DashboardIndices:
        prefix = es.index_prefix
        return cls(flagged=es.flagged_index, users=f"{prefix}-users", sessions=f"{prefix}-sessions",
                   audit=f"{prefix}-audit")


async def ensure_dashboard_indices(client: AsyncElasticsearch, indices: DashboardIndices) -> None:
    """Create the users, sessions and audit indices if missing (the flagged index is the worker's)."""
    for name, mapping in ((indices.users, USERS_MAPPING), (indices.sessions, SESSIONS_MAPPING),
                          (indices.audit, AUDIT_MAPPING)):
        if not await client.indices.exists(index=name):
            await client.options(ignore_status=400).indices.create(
                index=name, mappings=mapping,
                settings={"number_of_shards": 1, "number_of_replicas": 0},
            )

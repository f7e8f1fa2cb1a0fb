"""``FlaggedItemStore``: the flagged-item index in Elasticsearch, written idempotently.

The document ``_id`` is the mention id, and each write is an upsert: a replay, a restart or a redelivered
Kafka record overwrites the same document (never a second copy) and leaves the reviewer's ``review`` object
alone; only a new document starts with ``review.status = "new"``.

Example::

    store = FlaggedItemStore(create_async_client(settings.elasticsearch), index=settings.elasticsearch.flagged_index)
    failures = await store.index_items([flagged_item, ...])   # {} when every document was written
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.helpers import async_streaming_bulk

from schemas.flagged_item_index import flagged_items_template
from schemas.records import FlaggedItem

log = logging.getLogger(__name__)

INITIAL_REVIEW = {"status": "new", "assignee": None, "history": []}


def ensure_flagged_index(client: Elasticsearch, index: str) -> dict[str, Any]:
    """Install the index template and create the index if missing. Returns the template body used."""
    english = node_has_english_analyzer(client)
    template = flagged_items_template(index, english_analysis=english)
    client.indices.put_index_template(name=index, body=template)
    if not client.indices.exists(index=index):
        client.indices.create(index=index)
    else:  # an index made by an older template gets the fields added since (additive changes only)
        client.indices.put_mapping(index=index, properties=template["template"]["mappings"]["properties"])
    log.info("flagged-item index %s ready (text analyser: %s)", index, "english" if english else "standard")
    return template


def node_has_english_analyzer(client: Elasticsearch) -> bool:
    """The minimal distribution lacks the analysis-common module (and with it ``english``)."""
    try:
        client.indices.analyze(body={"analyzer": "english", "text": "running"})
    except Exception:  # noqa: BLE001 - any refusal means: not available
        return False
    return True


class FlaggedItemStore:
    """Writes flagged items in bulk, retrying 429s with backoff; reports per-document failures."""

    def __init__(self, client: AsyncElasticsearch, *, index: str, max_retries: int = 5,
                 initial_backoff_s: float = 1.0) -> None:
        self.client = client
        self.index = index
        self.max_retries = max_retries
        self.initial_backoff_s = initial_backoff_s

    def _actions(self, items: Iterable[FlaggedItem]) -> Iterable[dict[str, Any]]:
        for item in items:
            doc = item.asdict()
            yield {
                "_op_type": "update", "_index": self.index, "_id": item.mention_id,
                "doc": doc, "upsert": {**doc, "review": INITIAL_REVIEW},
            }

    async def index_items(self, items: Sequence[FlaggedItem]) -> dict[str, str]:
        """Upsert ``items``; return ``{mention_id: reason}`` for documents Elasticsearch refused.

        Transport errors (node down, timeouts) raise, so the caller can retry the whole batch.
        """
        failures: dict[str, str] = {}
        if not items:
            return failures
        async for ok, info in async_streaming_bulk(
            self.client, self._actions(items), max_retries=self.max_retries,
            initial_backoff=self.initial_backoff_s, raise_on_error=False, raise_on_exception=True,
            chunk_size=500,
        ):
            if not ok:
                result = info.get("update", {})
                error = result.get("error", result)
                failures[str(result.get("_id"))] = str(error)[:2000]
        return failures

    async def close(self) -> None:
        await self.client.close()

"""``index_flagged``: flagged mentions into Elasticsearch, in bulk, idempotently.

Documents Elasticsearch refuses (a mapping error, say) go to the dead-letter topic with its reason. When the
node is unreachable the agent waits and retries the same batch (backpressure), so nothing is lost or skipped
while Elasticsearch restarts.
"""

from __future__ import annotations

import asyncio
import logging

import faust
from elasticsearch import ApiError, ConnectionError, ConnectionTimeout

from agents.dead_letters import send_dead_letter
from agents.topics import PipelineTopics
from pipeline.search.client import create_async_client
from pipeline.search.flagged_item_store import FlaggedItemStore
from pipeline.settings import ElasticsearchSettings
from schemas.records import ClassifiedMention, FlaggedItem
from schemas.validation import utc_now_iso

STAGE = "index_flagged"
RETRY_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
log = logging.getLogger(__name__)


def register(app: faust.App, topics: PipelineTopics, *, es_settings: ElasticsearchSettings, batch_size: int,
             within_s: float) -> faust.types.AgentT:

    @app.agent(topics.classified, name=STAGE)
    async def index_flagged(stream: faust.StreamT) -> None:
        store = FlaggedItemStore(create_async_client(es_settings), index=es_settings.flagged_index,
                                 max_retries=es_settings.bulk_max_retries)
        try:
            async for batch in stream.take(batch_size, within=within_s):
                flagged: list[ClassifiedMention] = [item for item in batch if item.flagged]
                if flagged:
                    await _index_until_written(store, flagged, topics)
        finally:
            await store.close()

    return index_flagged


async def _index_until_written(store: FlaggedItemStore, batch: list[ClassifiedMention],
                               topics: PipelineTopics) -> None:
    indexed_at = utc_now_iso()
    items = [FlaggedItem.from_classified(item, indexed_at=indexed_at) for item in batch]
    attempt = 0
    while True:
        try:
            failures = await store.index_items(items)
            break
        except (ConnectionError, ConnectionTimeout, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.meta.status < 500 and exc.meta.status != 429:
                failures = {item.mention_id: f"Elasticsearch refused the batch: {exc}" for item in items}
                break
            delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
            attempt += 1
            log.warning("Elasticsearch unavailable (%s); retrying %d items in %.0fs", exc, len(items), delay)
            await asyncio.sleep(delay)
    by_id = {item.mention.mention_id: item for item in batch}
    for mention_id, reason in failures.items():
        await send_dead_letter(
            topics.dead_letter, stage=STAGE, reason=f"Elasticsearch refused the document: {reason}",
            error_type="IndexingError", source_topic=topics.classified.get_topic_name(), partition=None,
            offset=None, key=mention_id, payload=by_id[mention_id].dumps() if mention_id in by_id else b"",
        )
    log.info("indexed %d flagged mentions (%d refused)", len(items) - len(failures), len(failures))

"""``deduplicate_mentions``: let one copy of each piece of content through.

``mentions.normalised`` is keyed by fingerprint (author + normalised text), so the table of fingerprints seen
is co-partitioned with its stream. A fingerprint first seen under mention id A:
- arrives again under A (a replay, a redelivery after a crash): passed on; every sink downstream is
  idempotent, so this costs a re-classification and never a duplicate document;
- arrives under B (the same post cross-posted or collected twice under different ids): sent to
  ``mentions.duplicates`` and not classified again.
The table lives in memory and is rebuilt from its changelog topic when the worker starts (compacted, so it
holds one entry per distinct fingerprint).
"""

from __future__ import annotations

import faust

from agents.topics import PipelineTopics

STAGE = "deduplicate_mentions"


def register(app: faust.App, topics: PipelineTopics, *, partitions: int) -> faust.types.AgentT:
    first_seen = app.Table("mention_fingerprints", default=str, key_type=str, value_type=str,
                           partitions=partitions, help="fingerprint -> id of the first mention with it")

    # concurrency stays 1: this agent writes a table.
    @app.agent(topics.normalised, name=STAGE)
    async def deduplicate_mentions(stream: faust.StreamT) -> None:
        async for mention in stream:
            first = first_seen[mention.fingerprint]
            if not first:
                first_seen[mention.fingerprint] = mention.mention_id
                await topics.unique.send(key=mention.mention_id, value=mention)
            elif first == mention.mention_id:
                await topics.unique.send(key=mention.mention_id, value=mention)
            else:
                await topics.duplicates.send(key=mention.mention_id, value=mention)

    return deduplicate_mentions

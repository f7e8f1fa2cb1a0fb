"""``normalise_mentions``: validate raw bytes at the edge, normalise the text, compute the fingerprint.

Invalid records (not UTF-8, not JSON, wrong types, missing fields, oversize text) go to the dead-letter topic
with the reason; the agent carries on with the next record.
"""

from __future__ import annotations

import faust

from agents.dead_letters import send_dead_letter
from agents.topics import PipelineTopics
from pipeline.normalise.text import fingerprint, normalise_text
from schemas.validation import InvalidRecord, parse_raw_mention

STAGE = "normalise_mentions"


def register(app: faust.App, topics: PipelineTopics, *, max_text_chars: int) -> faust.types.AgentT:

    @app.agent(topics.raw, name=STAGE)
    async def normalise_mentions(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            try:
                mention = parse_raw_mention(event.value, max_text_chars=max_text_chars)
                mention.text = normalise_text(mention.text)
                mention.fingerprint = fingerprint(mention)
            except InvalidRecord as exc:
                await send_dead_letter(
                    topics.dead_letter, stage=STAGE, reason=exc.reason, error_type="InvalidRecord",
                    source_topic=message.topic, partition=message.partition, offset=message.offset,
                    key=event.key, payload=event.value,
                )
                continue
            await topics.normalised.send(key=mention.fingerprint, value=mention)

    return normalise_mentions

"""``classify_mentions``: batches of unique mentions through the classifier, off the event loop.

The classifier is CPU-bound, so each batch (``stream.take(n, within=s)``) runs in a one-thread executor
while the loop keeps serving Kafka heartbeats. A batch the classifier fails on goes to the dead-letter topic,
mention by mention, with the error; the agent carries on.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import faust

from agents.dead_letters import send_dead_letter
from agents.topics import PipelineTopics
from pipeline.classifier.base import Classifier, ClassifierInput
from schemas.records import SCHEMA_VERSION, ClassifiedMention, RawMention
from schemas.validation import utc_now_iso

STAGE = "classify_mentions"
log = logging.getLogger(__name__)


def classifier_input(mention: RawMention) -> ClassifierInput:
    return ClassifierInput(
        id=mention.mention_id, text=mention.text, source=mention.source, created_at=mention.created_at,
        author_handle=mention.author.handle, author_is_employee=mention.author.is_employee,
    )


def register(app: faust.App, topics: PipelineTopics, *, classifier: Classifier, batch_size: int,
             within_s: float) -> faust.types.AgentT:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier")

    @app.agent(topics.unique, name=STAGE)
    async def classify_mentions(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for batch in stream.take(batch_size, within=within_s):
            mentions: list[RawMention] = list(batch)
            try:
                results = await loop.run_in_executor(
                    executor, classifier.classify, [classifier_input(m) for m in mentions]
                )
            except Exception as exc:  # noqa: BLE001 - a failing batch is dead-lettered, the agent lives on
                log.exception("classifier failed on a batch of %d", len(mentions))
                for mention in mentions:
                    await send_dead_letter(
                        topics.dead_letter, stage=STAGE, reason=f"classifier failed: {exc}",
                        error_type=type(exc).__name__, source_topic=topics.unique.get_topic_name(),
                        partition=None, offset=None, key=mention.mention_id, payload=mention.dumps(),
                    )
                continue
            classified_at = utc_now_iso()
            for mention, result in zip(mentions, results, strict=True):
                await topics.classified.send(key=mention.mention_id, value=ClassifiedMention(
                    schema_version=SCHEMA_VERSION, mention=mention, about_ims=result.about_ims,
                    scores=result.scores, labels=result.labels, flagged=result.flagged, risk=result.risk,
                    explanations=result.explanations, classifier=classifier.name, classified_at=classified_at,
                ))

    return classify_mentions

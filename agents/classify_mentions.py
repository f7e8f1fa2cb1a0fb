"""``classify_mentions``: batches of unique mentions through the classifier, off the event loop.

Mentions with media are also matched against the registered IMS assets (``pipeline/images``) when any are
registered; a match sets ``logo_misuse`` and travels as ``image_evidence``.

The classifier is CPU-bound, so each batch (``stream.take(n, within=s)``) runs in a one-thread executor
while the loop keeps serving Kafka heartbeats. A batch the classifier fails on goes to the dead-letter topic,
mention by mention, with the error; the agent carries on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import faust

from agents.dead_letters import send_dead_letter
from agents.topics import PipelineTopics
from pipeline.classifier.base import ClassificationResult, Classifier, ClassifierInput
from pipeline.classifier.decisions import with_image_evidence
from schemas.records import SCHEMA_VERSION, ClassifiedMention, RawMention
from schemas.validation import utc_now_iso

STAGE = "classify_mentions"
log = logging.getLogger(__name__)


def classifier_input(mention: RawMention) -> ClassifierInput:
    return ClassifierInput(
        id=mention.mention_id, text=mention.text, source=mention.source, created_at=mention.created_at,
        author_handle=mention.author.handle, author_is_employee=mention.author.is_employee,
    )


MediaEvidence = Callable[[list[str]], list[dict]]


def classify_batch(classifier: Classifier, mentions: list[RawMention],
                   media_evidence: MediaEvidence | None) -> list[tuple[ClassificationResult, list[dict]]]:
    """Text decisions for a batch, each combined with the image evidence of the mention's media (if any)."""
    results = classifier.classify([classifier_input(m) for m in mentions])
    out = []
    for mention, result in zip(mentions, results, strict=True):
        evidence: list[dict] = []
        if media_evidence is not None and mention.media_urls:
            evidence = media_evidence(list(mention.media_urls))
            result = with_image_evidence(result, evidence, author_is_employee=mention.author.is_employee)
        out.append((result, evidence))
    return out


def register(app: faust.App, topics: PipelineTopics, *, classifier: Classifier, batch_size: int,
             within_s: float, media_evidence: MediaEvidence | None = None) -> faust.types.AgentT:
    """``media_evidence`` (``pipeline.images.evidence.media_evidence_function``) adds image matches."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classifier")

    @app.agent(topics.unique, name=STAGE)
    async def classify_mentions(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for batch in stream.take(batch_size, within=within_s):
            mentions: list[RawMention] = list(batch)
            try:
                results = await loop.run_in_executor(
                    executor, classify_batch, classifier, mentions, media_evidence
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
            for mention, (result, evidence) in zip(mentions, results, strict=True):
                await topics.classified.send(key=mention.mention_id, value=ClassifiedMention(
                    schema_version=SCHEMA_VERSION, mention=mention, about_ims=result.about_ims,
                    scores=result.scores, labels=result.labels, flagged=result.flagged, risk=result.risk,
                    explanations=result.explanations, classifier=classifier.name, classified_at=classified_at,
                    image_evidence=evidence,
                ))

    return classify_mentions

"""The Faust app: one place that owns it, its topics and which agents run.

    mentions.raw --normalise_mentions--> mentions.normalised --deduplicate_mentions--> mentions.unique
      --classify_mentions--> mentions.classified --index_flagged--> Elasticsearch
    (any stage) --> mentions.dead_letter          (duplicates) --> mentions.duplicates

Processing is at-least-once (Faust's exactly-once has open duplicate bugs on a single broker); every sink is
idempotent instead: Elasticsearch documents are keyed by mention id, topics downstream are keyed by it too.

Run it with ``ims-monitor worker``; build it in tests with ``create_app(settings, classifier=...)``.
"""

from __future__ import annotations

from pathlib import Path

import faust

from agents.topics import create_topics
from pipeline.classifier.base import Classifier
from pipeline.settings import Settings

MAX_MESSAGE_BYTES = 4 * 1024 * 1024


def create_app(settings: Settings, *, classifier: Classifier) -> faust.App:
    """The worker's app with every agent registered; nothing connects until the worker starts."""
    app = faust.App(
        settings.worker.app_id,
        broker=f"kafka://{settings.kafka.bootstrap_servers}",
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=settings.kafka.partitions,
        topic_replication_factor=settings.kafka.replication_factor,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        web_enabled=False,
        table_cleanup_interval=60.0,
    )
    topics = create_topics(app, settings)
    if settings.worker.ready_file is not None:
        _report_readiness(app, settings.worker.ready_file)

    from agents import classify_mentions, deduplicate_mentions, index_flagged, normalise_mentions

    normalise_mentions.register(app, topics, max_text_chars=settings.worker.max_text_chars)
    deduplicate_mentions.register(app, topics, partitions=settings.kafka.partitions)
    from pipeline.images.evidence import media_evidence_function

    classify_mentions.register(app, topics, classifier=classifier, batch_size=settings.worker.classify_batch_size,
                               within_s=settings.worker.classify_batch_within_s,
                               media_evidence=media_evidence_function(settings.images))
    index_flagged.register(app, topics, es_settings=settings.elasticsearch,
                           batch_size=settings.worker.index_batch_size, within_s=settings.worker.index_batch_within_s)
    if settings.alerts.enabled:  # e-mail alerts (pipeline/alerts): outbox agent + delivery/evaluation timers
        from agents import alert_mentions

        alert_mentions.register(app, topics, settings=settings)
    return app


def _report_readiness(app: faust.App, ready_file: Path) -> None:
    """Write the consumer generation to ``ready_file`` whenever a rebalance (and table recovery) completes.

    Records fetched before a rebalance are discarded by Faust and fetched again afterwards; a supervisor that
    waits for this file (``pipeline.demo.start_worker``) produces only once the worker really consumes.
    """
    ready_file.unlink(missing_ok=True)

    @app.on_rebalance_complete.connect
    async def write_ready_file(sender: faust.App, **kwargs: object) -> None:
        ready_file.parent.mkdir(parents=True, exist_ok=True)
        ready_file.write_text(f"{sender.consumer_generation_id}\n")

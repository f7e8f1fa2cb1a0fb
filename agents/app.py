"""The Faust app: one place that owns it, its topics and which agents run.

    mentions.raw --normalise_mentions--> mentions.normalised --deduplicate_mentions--> mentions.unique
      --classify_mentions--> mentions.classified --index_flagged--> Elasticsearch
    (any stage) --> mentions.dead_letter          (duplicates) --> mentions.duplicates

Processing is at-least-once (Faust's exactly-once has open duplicate bugs on a single broker); every sink is
idempotent instead: Elasticsearch documents are keyed by mention id, topics downstream are keyed by it too.

Run it with ``ims-monitor worker``; build it in tests with ``create_app(settings, classifier=...)``.
"""

from __future__ import annotations

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

    from agents import classify_mentions, deduplicate_mentions, index_flagged, normalise_mentions

    normalise_mentions.register(app, topics, max_text_chars=settings.worker.max_text_chars)
    deduplicate_mentions.register(app, topics, partitions=settings.kafka.partitions)
    classify_mentions.register(app, topics, classifier=classifier, batch_size=settings.worker.classify_batch_size,
                               within_s=settings.worker.classify_batch_within_s)
    index_flagged.register(app, topics, es_settings=settings.elasticsearch,
                           batch_size=settings.worker.index_batch_size, within_s=settings.worker.index_batch_within_s)
    return app

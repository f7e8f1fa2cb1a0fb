"""Reading what the pipeline wrote to its topics, for assertions (kafka-python, no consumer group)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class TopicRecord:
    topic: str
    key: str
    value: bytes

    def json(self) -> Any:
        return json.loads(self.value)


def read_until(bootstrap_servers: str, topics: list[str], keys: set[str], *, timeout_s: float = 90.0,
               per_key: int = 1, key_of: Callable[[str, bytes], str] | None = None) -> dict[str, list[TopicRecord]]:
    """All records of ``topics`` (from the start) whose key is in ``keys``, once each key has ``per_key``.

    ``key_of(kafka_key, value)`` picks what to match on instead of the Kafka key.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False,
                             fetch_max_bytes=8 * 1024 * 1024, max_partition_fetch_bytes=8 * 1024 * 1024)
    found: dict[str, list[TopicRecord]] = defaultdict(list)
    try:
        deadline = time.monotonic() + timeout_s
        partitions: list[TopicPartition] = []
        while time.monotonic() < deadline:
            partitions = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
            if len(partitions) >= len(topics):
                break
            time.sleep(0.5)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        while time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                for message in messages:
                    key = message.key.decode("utf-8", errors="replace") if message.key else ""
                    if key_of is not None:
                        key = key_of(key, message.value)
                    if key in keys:
                        found[key].append(TopicRecord(tp.topic, key, message.value))
            if all(len(found[k]) >= per_key for k in keys):
                break
    finally:
        consumer.close()
    return dict(found)

"""What every collector is: something that yields raw mentions, and where they go (Kafka).

Example::

    from pipeline.collectors.jsonl_replay import JsonlReplayCollector
    from pipeline.collectors.kafka_producer import KafkaMentionProducer

    with KafkaMentionProducer(bootstrap_servers="127.0.0.1:9092", topic="mentions.raw") as producer:
        for record in JsonlReplayCollector(Path("data/sample/mentions.jsonl")).collect():
            producer.send(record)

A collector does not validate: it turns what the source gave it into the raw-mention wire format as best it
can and keys it by the stable mention id. The pipeline validates at its edge (``normalise_mentions``) and
sends what fails to the dead-letter topic, so nothing a source produced is lost silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CollectedRecord:
    """One item as it will be produced: the Kafka key (the mention id) and the value bytes."""

    key: str
    value: bytes


class Collector(Protocol):
    name: str

    def collect(self) -> Iterator[CollectedRecord]: ...

"""Where the runner puts mentions: Kafka (``KafkaMentionSink``) or JSONL on a stream (``--dry-run``).

``emit`` returns only when the mentions are durable (Kafka acknowledged them with ``acks=all``); the runner
commits cursors after that, never before.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Protocol, TextIO

from kafka.errors import KafkaError

from pipeline.collectors.base import CollectedRecord
from pipeline.collectors.errors import DeliveryFailed
from pipeline.collectors.kafka_producer import KafkaMentionProducer


class MentionSink(Protocol):
    async def emit(self, mentions: list[dict[str, Any]]) -> None: ...

    def close(self) -> None: ...


def to_record(mention: dict[str, Any]) -> CollectedRecord:
    return CollectedRecord(key=str(mention["mention_id"]),
                           value=json.dumps(mention, ensure_ascii=False).encode("utf-8"))


class KafkaMentionSink:
    """Produces to the raw-mentions topic keyed by mention id; waits for the acknowledgements off the loop."""

    def __init__(self, producer: KafkaMentionProducer, *, timeout_s: float = 60.0) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._lock = asyncio.Lock()

    async def emit(self, mentions: list[dict[str, Any]]) -> None:
        records = [to_record(m) for m in mentions]
        async with self._lock:
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, lambda: self.producer.send_and_wait(records, timeout_s=self.timeout_s))
            except KafkaError as exc:
                raise DeliveryFailed(f"Kafka did not acknowledge {len(records)} mentions: {exc!r}") from exc

    def close(self) -> None:
        self.producer.close()


class JsonlMentionSink:
    """Writes one JSON mention per line (``collect --dry-run`` prints to stdout)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.written = 0

    async def emit(self, mentions: list[dict[str, Any]]) -> None:
        try:
            self.stream.write("".join(json.dumps(m, ensure_ascii=False) + "\n" for m in mentions))
            self.stream.flush()
        except (OSError, ValueError) as exc:  # closed or broken stream (e.g. `| head`)
            raise DeliveryFailed(f"could not write {len(mentions)} mentions: {exc}") from exc
        self.written += len(mentions)

    def close(self) -> None:
        self.stream.flush()

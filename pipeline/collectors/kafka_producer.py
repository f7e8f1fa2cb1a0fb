"""``KafkaMentionProducer``: collectors' only way into Kafka (kafka-python, ``acks=all``, keyed by mention id)."""

from __future__ import annotations

from types import TracebackType

from kafka import KafkaProducer

from pipeline.collectors.base import CollectedRecord

MAX_REQUEST_BYTES = 4 * 1024 * 1024


class KafkaMentionProducer:
    def __init__(self, *, bootstrap_servers: str, topic: str, client_id: str = "ims-collector") -> None:
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id=client_id, acks="all", retries=5,
            linger_ms=20, max_request_size=MAX_REQUEST_BYTES, compression_type=None,
            max_in_flight_requests_per_connection=1,  # keep per-key order across retries
        )
        self.sent = 0

    def send(self, record: CollectedRecord) -> None:
        self._producer.send(self.topic, key=record.key.encode("utf-8"), value=record.value)
        self.sent += 1

    def flush(self, timeout_s: float = 60.0) -> None:
        self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self._producer.flush()
        self._producer.close()

    def __enter__(self) -> KafkaMentionProducer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

"""``KafkaMentionProducer``: collectors' only way into Kafka (kafka-python, ``acks=all``, keyed by mention id).

Every send is checked: ``flush()`` raises :class:`ProduceFailed` naming the keys the broker never
acknowledged (after kafka-python's own retries), so a collector never advances its cursor past a post that
did not reach Kafka.
"""

from __future__ import annotations

from types import TracebackType

from kafka import KafkaProducer

from pipeline.collectors.base import CollectedRecord
from pipeline.errors import MonitorError

MAX_REQUEST_BYTES = 4 * 1024 * 1024


class ProduceFailed(MonitorError):
    def __init__(self, failures: dict[str, str]) -> None:
        sample = "; ".join(f"{key}: {error}" for key, error in list(failures.items())[:5])
        super().__init__(f"{len(failures)} records were not acknowledged by Kafka ({sample})")
        self.failures = failures


class KafkaMentionProducer:
    def __init__(self, *, bootstrap_servers: str, topic: str, client_id: str = "ims-collector") -> None:
        self.topic = topic
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id=client_id, acks="all", retries=10,
            retry_backoff_ms=200, delivery_timeout_ms=120_000,
            linger_ms=20, max_request_size=MAX_REQUEST_BYTES, compression_type=None,
            max_in_flight_requests_per_connection=1,  # keep per-key order across retries
        )
        self.sent = 0

    def send(self, record: CollectedRecord) -> None:
        self._producer.send(self.topic, key=record.key.encode("utf-8"), value=record.value)
        self.sent += 1

    def send_and_wait(self, records: list[CollectedRecord], *, timeout_s: float = 60.0) -> None:
        """Produce ``records`` and return once the broker acknowledged every one (``acks=all``).

        Raises the producer's error (``KafkaError``) when any record was not acknowledged in time; the caller
        must then not move its cursor.
        """
        futures = [self._producer.send(self.topic, key=r.key.encode("utf-8"), value=r.value) for r in records]
        self._producer.flush(timeout=timeout_s)
        for future in futures:
            future.get(timeout=timeout_s)
        self.sent += len(records)

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

"""Create the pipeline's topics up front (the worker would create them too, but producers may come first)."""

from __future__ import annotations

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError


def ensure_topics(bootstrap_servers: str, names: list[str], *, partitions: int, replication_factor: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ims-topics")
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(name, partitions, replication_factor) for name in names if name not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()

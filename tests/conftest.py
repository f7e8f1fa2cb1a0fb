"""Session fixtures: the real Kafka broker and Elasticsearch node, started once for the whole run.

``services`` starts the local infra unless it already runs (and stops at the end only what it started).
``settings`` isolates this test session on the shared services: its own topic prefix, consumer group and
index prefix, all deleted at the end. Unit tests use none of these and need no server.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from infra.local import infra_down, infra_up
from pipeline.search.client import create_client
from pipeline.settings import Settings, load_settings


def _progress(message: str) -> None:
    print(f"[infra] {message}", file=sys.stderr)


@pytest.fixture(scope="session")
def services() -> Iterator[Settings]:
    """The local Kafka + Elasticsearch, healthy. Yields the default settings (with the node's password)."""
    base = load_settings(None)
    started = infra_up(base.infra, progress=_progress)
    try:
        yield load_settings(None)
    finally:
        if started:
            infra_down(base.infra, only=started, progress=_progress)


@pytest.fixture(scope="session")
def settings(services: Settings) -> Iterator[Settings]:
    """Settings private to this test session (topics, consumer group and indices are unique)."""
    run = uuid.uuid4().hex[:8]
    isolated = load_settings(
        None,
        kafka={"topic_prefix": f"test-{run}."},
        elasticsearch={"index_prefix": f"test-{run}"},
        worker={"app_id": f"ims-test-{run}", "classify_batch_within_s": 0.2, "index_batch_within_s": 0.2},
    )
    yield isolated
    _delete_session_data(isolated, run)


def _delete_session_data(settings: Settings, run: str) -> None:
    from kafka import KafkaAdminClient

    client = create_client(settings.elasticsearch)
    try:
        for name in client.indices.get(index=f"test-{run}*", expand_wildcards="all", ignore_unavailable=True):
            client.indices.delete(index=name)
        for template in client.indices.get_index_template(name=f"test-{run}*").get("index_templates", []):
            client.indices.delete_index_template(name=template["name"])
    except Exception as exc:  # noqa: BLE001 - cleanup must not fail the run
        _progress(f"could not delete test indices: {exc}")
    finally:
        client.close()
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap_servers)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(f"test-{run}.") or t.startswith(f"ims-test-{run}")]
        if mine:
            admin.delete_topics(mine)
    except Exception as exc:  # noqa: BLE001
        _progress(f"could not delete test topics: {exc}")
    finally:
        admin.close()


@pytest.fixture(scope="session")
def es_client(settings: Settings) -> Iterator[Elasticsearch]:
    client = create_client(settings.elasticsearch)
    yield client
    client.close()


def derive_settings(settings: Settings, suffix: str) -> Settings:
    """Another isolated namespace inside this session (own topics, consumer group and index)."""
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(update={"topic_prefix": f"{settings.kafka.topic_prefix}{suffix}."}),
        "elasticsearch": settings.elasticsearch.model_copy(
            update={"index_prefix": f"{settings.elasticsearch.index_prefix}-{suffix}"}),
        "worker": settings.worker.model_copy(update={"app_id": f"{settings.worker.app_id}-{suffix}"}),
    })

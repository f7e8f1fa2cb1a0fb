"""The Faust agents against the real broker and node: one worker process for the module."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch
from kafka import KafkaProducer

from infra.topics import ensure_topics
from pipeline.collectors.base import CollectedRecord
from pipeline.collectors.kafka_producer import KafkaMentionProducer
from pipeline.demo import start_worker, stop_worker
from pipeline.search.flagged_item_store import ensure_flagged_index
from pipeline.settings import Settings
from schemas.records import make_mention_id
from tests.conftest import derive_settings
from tests.factories import raw_bytes, raw_mention
from tests.kafka_reader import read_until

pytestmark = pytest.mark.integration

FLAGGED_TEXT = "Incident Management Solutions are cowboys and a total scam, avoid them at all costs"
BENIGN_TEXT = "Lovely to see the IMS team at the careers fair today"


@pytest.fixture(scope="module")
def pipeline_settings(settings: Settings, es_client: Elasticsearch, tmp_path_factory) -> Iterator[Settings]:
    ours = derive_settings(settings, "agents")
    ensure_topics(ours.kafka.bootstrap_servers, ours.kafka.topics.all(), partitions=1, replication_factor=1)
    ensure_flagged_index(es_client, ours.elasticsearch.flagged_index)
    worker = start_worker(ours, log_file=tmp_path_factory.mktemp("worker") / "worker.log")
    yield ours
    stop_worker(worker)


def produce(settings: Settings, mentions: list[dict]) -> list[str]:
    with KafkaMentionProducer(bootstrap_servers=settings.kafka.bootstrap_servers,
                              topic=settings.kafka.topics.raw) as producer:
        for mention in mentions:
            key = make_mention_id(mention["source"], mention["source_id"])
            producer.send(CollectedRecord(key=key, value=raw_bytes(mention)))
    return [make_mention_id(m["source"], m["source_id"]) for m in mentions]


def produce_bytes(settings: Settings, records: dict[str, bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all",
                             max_request_size=4 * 1024 * 1024)
    for key, value in records.items():
        producer.send(settings.kafka.topics.raw, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def indexed_count(es: Elasticsearch, settings: Settings, ids: list[str], *, expect: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        es.indices.refresh(index=settings.elasticsearch.flagged_index)
        count = es.count(index=settings.elasticsearch.flagged_index, query={"ids": {"values": ids}})["count"]
        if count >= expect or time.monotonic() > deadline:
            return count
        time.sleep(0.5)


def test_producer_keys_records_by_mention_id(pipeline_settings: Settings) -> None:
    mention = raw_mention("producer check for IMS")
    [key] = produce(pipeline_settings, [mention])
    found = read_until(pipeline_settings.kafka.bootstrap_servers, [pipeline_settings.kafka.topics.raw], {key})
    [record] = found[key]
    assert key == f"twitter:{mention['source_id']}"
    assert record.json()["text"] == "producer check for IMS"


def test_mentions_flow_through_every_agent_into_the_index(pipeline_settings: Settings, es_client: Elasticsearch) -> None:
    topics = pipeline_settings.kafka.topics
    flagged = raw_mention("IMS\u202e  " + FLAGGED_TEXT)
    benign = raw_mention(BENIGN_TEXT)
    flagged_id, benign_id = produce(pipeline_settings, [flagged, benign])

    normalised = read_until(pipeline_settings.kafka.bootstrap_servers, [topics.normalised], {flagged_id, benign_id},
                            key_of=lambda _key, value: json.loads(value)["mention_id"])
    record = normalised[flagged_id][0]
    assert record.json()["text"] == "IMS " + FLAGGED_TEXT          # bidi override and double space gone
    assert len(record.json()["fingerprint"]) == 32

    classified = read_until(pipeline_settings.kafka.bootstrap_servers, [topics.classified], {flagged_id, benign_id})
    c = {k: rs[0].json() for k, rs in classified.items()}
    assert c[flagged_id]["flagged"] is True and "reputation_risk" in c[flagged_id]["labels"]
    assert c[benign_id]["flagged"] is False and c[benign_id]["labels"] == []
    assert c[flagged_id]["mention"]["mention_id"] == flagged_id

    assert indexed_count(es_client, pipeline_settings, [flagged_id], expect=1) == 1
    doc = es_client.get(index=pipeline_settings.elasticsearch.flagged_index, id=flagged_id)["_source"]
    assert doc["review"]["status"] == "new"
    assert doc["risk"] == c[flagged_id]["risk"] > 0
    assert es_client.exists(index=pipeline_settings.elasticsearch.flagged_index, id=benign_id).body is False


def test_replaying_the_same_input_creates_no_duplicates_and_keeps_reviews(
    pipeline_settings: Settings, es_client: Elasticsearch
) -> None:
    index = pipeline_settings.elasticsearch.flagged_index
    mentions = [raw_mention(f"{FLAGGED_TEXT} (complaint number {i})") for i in range(5)]
    ids = produce(pipeline_settings, mentions)
    assert indexed_count(es_client, pipeline_settings, ids, expect=5) == 5
    es_client.update(index=index, id=ids[0], doc={"review": {"status": "dismissed", "assignee": "hr1"}},
                     refresh=True)

    produce(pipeline_settings, mentions)  # the replay
    read_until(pipeline_settings.kafka.bootstrap_servers, [pipeline_settings.kafka.topics.classified], set(ids),
               per_key=2)
    time.sleep(2)  # let index_flagged write the replayed batch
    assert indexed_count(es_client, pipeline_settings, ids, expect=5) == 5
    assert es_client.get(index=index, id=ids[0])["_source"]["review"]["status"] == "dismissed"


def test_same_content_under_another_id_is_a_duplicate(pipeline_settings: Settings) -> None:
    topics = pipeline_settings.kafka.topics
    author = {"handle": "@crossposter", "is_employee": False}
    first = raw_mention("IMS never called me back. Never. https://t.co/a1", author=author)
    copy = raw_mention("ims never called me back never https://t.co/zz9", author=author, source="mastodon")
    first_id, copy_id = produce(pipeline_settings, [first, copy])
    found = read_until(pipeline_settings.kafka.bootstrap_servers, [topics.unique, topics.duplicates],
                       {first_id, copy_id})
    assert [r.topic for r in found[first_id]] == [topics.unique]
    assert [r.topic for r in found[copy_id]] == [topics.duplicates]


def test_invalid_records_go_to_the_dead_letter_topic_and_the_pipeline_keeps_going(
    pipeline_settings: Settings,
) -> None:
    topics = pipeline_settings.kafka.topics
    without_text = {k: v for k, v in raw_mention().items() if k != "text"}
    bad = {
        "bad:malformed": b'{"schema_version": 1, "source": "twitter",',
        "bad:wrong-types": raw_bytes(raw_mention(text=["not", "a", "string"], reach="lots")),
        "bad:missing-field": raw_bytes(without_text),
        "bad:huge-text": raw_bytes(raw_mention("IMS " + "a" * 1_048_576)),
        "bad:not-utf8": b'{"text": "caf\xe9 IMS"}',
    }
    produce_bytes(pipeline_settings, bad)
    [good_id] = produce(pipeline_settings, [raw_mention(FLAGGED_TEXT + " (after the bad ones)")])

    letters = read_until(pipeline_settings.kafka.bootstrap_servers, [topics.dead_letter], set(bad))
    reasons = {key: records[0].json() for key, records in letters.items()}
    assert "not valid JSON" in reasons["bad:malformed"]["reason"]
    assert "field 'text' must be a string" in reasons["bad:wrong-types"]["reason"]
    assert "missing field 'text'" in reasons["bad:missing-field"]["reason"]
    assert "too long" in reasons["bad:huge-text"]["reason"]
    assert "not valid UTF-8" in reasons["bad:not-utf8"]["reason"]
    for key, letter in reasons.items():
        assert base64.b64decode(letter["payload_b64"]) == bad[key]   # nothing lost
        assert letter["stage"] == "normalise_mentions"
        assert letter["source_topic"] == topics.raw and letter["source_offset"] is not None

    classified = read_until(pipeline_settings.kafka.bootstrap_servers, [topics.classified], {good_id})
    assert json.loads(classified[good_id][0].value)["flagged"] is True

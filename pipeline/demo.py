"""``ims-monitor demo``: the whole pipeline on the bundled sample, with nothing to set up by hand.

1. start the local Kafka and Elasticsearch unless they already run (``infra up``);
2. create the topics and the flagged-item index;
3. start the Faust worker as a child process (``ims-monitor worker``);
   without ``--once``, also the HR dashboard (``ims-monitor dashboard``), printing its URL and a login;
4. replay the sample through the JSONL replay collector into ``mentions.raw``;
5. follow the output topics until every mention produced has an outcome (classified, duplicate or
   dead-lettered) and every flagged one is in Elasticsearch;
6. print a JSON summary as the last line of stdout:
   ``{"mentions": N, "flagged": F, "indexed": I, "dead_letter": D}``;
7. with ``--once``, stop the worker and the services this run started; otherwise keep the worker running
   until Ctrl-C.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition

from infra.local import infra_down, infra_up
from infra.processes import is_alive, stop_pid
from infra.topics import ensure_topics
from pipeline.alerts.demo import DemoMail
from pipeline.collectors.jsonl_replay import JsonlReplayCollector
from pipeline.collectors.kafka_producer import KafkaMentionProducer
from pipeline.dashboard.demo import DemoDashboard
from pipeline.errors import DemoTimeout
from pipeline.search.client import create_client
from pipeline.search.flagged_item_store import ensure_flagged_index
from pipeline.settings import Settings, settings_to_env, with_local_credentials

Progress = Callable[[str], None]


@dataclass
class Outcomes:
    """What became of the mentions a run produced, read back from the output topics."""

    expected: set[str]
    classified: set[str] = field(default_factory=set)
    flagged: set[str] = field(default_factory=set)
    duplicates: set[str] = field(default_factory=set)
    dead_letter: set[str] = field(default_factory=set)

    @property
    def settled(self) -> set[str]:
        return (self.classified | self.duplicates | self.dead_letter) & self.expected

    @property
    def complete(self) -> bool:
        return self.settled == self.expected


def start_worker(settings: Settings, *, log_file: Path, ready_timeout_s: float = 180.0,
                 settle_s: float = 2.0) -> subprocess.Popen[bytes]:
    """``ims-monitor worker`` as a child process with these exact settings (passed through the environment).

    Returns once the worker has joined its consumer group and finished recovery, and no further rebalance
    followed within ``settle_s``: records produced from then on are consumed at once.
    """
    ready_file = log_file.parent / f"ready-{os.getpid()}-{time.monotonic_ns()}"
    settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"ready_file": ready_file})})
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMS_")}
    env.update(settings_to_env(settings))
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        worker = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + ready_timeout_s
    seen, seen_at = None, 0.0
    while True:
        if worker.poll() is not None:
            raise DemoTimeout(f"the worker exited with code {worker.returncode} while starting; see {log_file}")
        if time.monotonic() > deadline:
            stop_worker(worker)
            raise DemoTimeout(f"the worker was not ready after {ready_timeout_s:.0f}s; see {log_file}")
        generation = ready_file.read_text().strip() if ready_file.exists() else None
        if generation != seen:
            seen, seen_at = generation, time.monotonic()
        elif generation is not None and time.monotonic() - seen_at >= settle_s:
            ready_file.unlink(missing_ok=True)
            return worker
        time.sleep(0.2)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if is_alive(worker.pid):
        stop_pid(worker.pid, timeout_s=30)
    worker.wait(timeout=10)


def end_offsets(consumer: KafkaConsumer, topics: list[str]) -> dict[TopicPartition, int]:
    partitions = []
    for topic in topics:
        for p in consumer.partitions_for_topic(topic) or set():
            partitions.append(TopicPartition(topic, p))
    return consumer.end_offsets(partitions)


def replay(settings: Settings, sample: Path) -> set[str]:
    """Produce every line of ``sample`` to ``mentions.raw``; return the keys produced."""
    keys: set[str] = set()
    with KafkaMentionProducer(bootstrap_servers=settings.kafka.bootstrap_servers,
                              topic=settings.kafka.topics.raw, client_id="ims-replay") as producer:
        for record in JsonlReplayCollector(sample).collect():
            producer.send(record)
            keys.add(record.key)
    return keys


def follow_outcomes(settings: Settings, start: dict[TopicPartition, int], expected: set[str], *,
                    timeout_s: float, progress: Progress, worker: subprocess.Popen[bytes] | None = None) -> Outcomes:
    """Read the output topics from ``start`` until every expected key has an outcome."""
    topics = settings.kafka.topics
    outcomes = Outcomes(expected=expected)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False,
                             group_id=None, client_id="ims-demo-follower", consumer_timeout_ms=1000)
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout_s
        last_report = 0.0
        while not outcomes.complete:
            if time.monotonic() > deadline:
                raise DemoTimeout(f"after {timeout_s:.0f}s only {len(outcomes.settled)} of {len(expected)} "
                                  f"mentions came through; see the worker log")
            if worker is not None and worker.poll() is not None:
                raise DemoTimeout(f"the worker exited with code {worker.returncode}; see its log")
            for tp, messages in consumer.poll(timeout_ms=1000).items():
                for message in messages:
                    key = message.key.decode("utf-8", errors="replace") if message.key else ""
                    if tp.topic == topics.classified:
                        outcomes.classified.add(key)
                        if json.loads(message.value).get("flagged"):
                            outcomes.flagged.add(key)
                    elif tp.topic == topics.duplicates:
                        outcomes.duplicates.add(key)
                    elif tp.topic == topics.dead_letter:
                        outcomes.dead_letter.add(key)
            if time.monotonic() - last_report > 5:
                last_report = time.monotonic()
                progress(f"processed {len(outcomes.settled)}/{len(expected)} mentions "
                         f"({len(outcomes.flagged & expected)} flagged, {len(outcomes.dead_letter & expected)} "
                         f"dead-lettered)")
    finally:
        consumer.close()
    return outcomes


def wait_indexed(settings: Settings, ids: set[str], *, timeout_s: float) -> int:
    """How many of ``ids`` are documents in the flagged-item index, waiting up to ``timeout_s`` for all."""
    client = create_client(settings.elasticsearch)
    index = settings.elasticsearch.flagged_index
    deadline = time.monotonic() + timeout_s
    found = 0
    try:
        while True:
            client.indices.refresh(index=index)
            found = 0
            id_list = sorted(ids)
            for i in range(0, len(id_list), 1000):
                chunk = id_list[i:i + 1000]
                found += client.count(index=index, query={"ids": {"values": chunk}})["count"]
            if found >= len(ids) or time.monotonic() > deadline:
                return found
            time.sleep(1.0)
    finally:
        client.close()


def run_demo(settings: Settings, *, sample: Path, once: bool, timeout_s: float = 600.0,
             use_local_infra: bool = True, progress: Progress) -> dict[str, int]:
    started_services: list[str] = []
    worker: subprocess.Popen[bytes] | None = None
    mail: DemoMail | None = None
    dashboard: DemoDashboard | None = None
    try:
        if use_local_infra:
            started_services = infra_up(settings.infra, progress=progress)
            settings = with_local_credentials(settings)  # a first start generates the password
        topics = settings.kafka.topics
        ensure_topics(settings.kafka.bootstrap_servers, topics.all(), partitions=settings.kafka.partitions,
                      replication_factor=settings.kafka.replication_factor)
        es = create_client(settings.elasticsearch)
        try:
            ensure_flagged_index(es, settings.elasticsearch.flagged_index)
        finally:
            es.close()
        if not once:  # HR's view of the index, filling up as the worker goes
            dashboard = DemoDashboard(settings, progress=progress)
            dashboard.start()
        mail = DemoMail(settings, progress=progress)  # alert e-mails go to a local mail catcher
        settings = mail.start()

        watcher = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, group_id=None)
        start = end_offsets(watcher, [topics.classified, topics.duplicates, topics.dead_letter])
        watcher.close()

        worker_log = settings.infra.home / "worker" / "worker.log"
        worker = start_worker(settings, log_file=worker_log)
        progress(f"worker ready (pid {worker.pid}), log: {worker_log}")
        t0 = time.monotonic()
        expected = replay(settings, sample)
        progress(f"replayed {len(expected)} mentions from {sample} into {topics.raw}")
        outcomes = follow_outcomes(settings, start, expected, timeout_s=timeout_s, progress=progress, worker=worker)
        flagged = outcomes.flagged & expected
        indexed = wait_indexed(settings, flagged, timeout_s=60.0)
        summary = {"mentions": len(expected), "flagged": len(flagged), "indexed": indexed,
                   "dead_letter": len(outcomes.dead_letter & expected)}
        progress(f"done in {time.monotonic() - t0:.1f}s: {len(outcomes.classified & expected)} classified, "
                 f"{len(outcomes.duplicates & expected)} duplicates; flagged items in index "
                 f"'{settings.elasticsearch.flagged_index}' at {settings.elasticsearch.url}")
        mail.report(flagged)
        print(json.dumps(summary), flush=True)
        if not once:
            progress("the worker keeps running on new mentions; press Ctrl-C to stop")
            try:
                worker.wait()
            except KeyboardInterrupt:
                progress("stopping")
        return summary
    finally:
        if worker is not None:
            stop_worker(worker)
        if dashboard is not None:
            dashboard.stop()
        if mail is not None:
            mail.stop()
        if started_services:
            infra_down(settings.infra, only=started_services, progress=progress)


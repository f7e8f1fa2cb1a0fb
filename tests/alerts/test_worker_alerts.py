"""Through Kafka and the Faust worker: classified mentions in, alert e-mails out, none twice across a crash."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from kafka import KafkaProducer

from infra.topics import ensure_topics
from pipeline.alerts.mail_catcher import MailCatcher, free_port
from pipeline.demo import start_worker, stop_worker
from pipeline.settings import AlertSettings, Settings
from schemas.records import ClassifiedMention
from tests.alerts.conftest import by_alert_id
from tests.alerts.factories import classified
from tests.conftest import derive_settings

pytestmark = pytest.mark.integration


def produce_classified(settings: Settings, items: list[ClassifiedMention]) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers, acks="all")
    for item in items:
        producer.send(settings.kafka.topics.classified, key=item.mention.mention_id.encode(), value=item.dumps())
    producer.flush()
    producer.close()


def wait_for_mail(catcher: MailCatcher, count: int, *, timeout_s: float, worker) -> None:
    deadline = time.monotonic() + timeout_s
    while len(catcher.files()) < count:
        assert worker.poll() is None, "the worker exited; see its log"
        assert time.monotonic() < deadline, f"only {len(catcher.files())} of {count} e-mails arrived"
        time.sleep(0.2)


def test_worker_alerts_once_across_a_crash_and_a_replay(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    ours = derive_settings(settings, "alerts")
    ours = ours.model_copy(update={"alerts": AlertSettings(
        enabled=True, smtp_port=port, deliver_interval_s=0.5, evaluate_interval_s=2.0, surge_metrics=[],
        retry_backoff_s=[1.0], routes=[], default_recipients=["hr@ims.example"])})
    ensure_topics(ours.kafka.bootstrap_servers, ours.kafka.topics.all(), partitions=1, replication_factor=1)
    first = [classified(f"IMS shift lead {n} keeps threatening the new starters", labels=["harassment"], risk=82)
             for n in range(4)]
    quiet = [classified("IMS logo on a charity-run vest", labels=["logo_misuse"], risk=20),
             classified("Lovely service from IMS today", labels=[])]
    log_file = tmp_path / "worker.log"
    with MailCatcher(tmp_path / "mail", port=port) as catcher:
        produce_classified(ours, first + quiet)
        worker = start_worker(ours, log_file=log_file)
        try:
            wait_for_mail(catcher, 4, timeout_s=120, worker=worker)
        finally:
            os.kill(worker.pid, signal.SIGKILL)  # a crash: no clean shutdown, offsets maybe uncommitted
            worker.wait(timeout=10)

        second = [classified(f"IMS supervisor {n} harassing a cleaner", labels=["harassment"], risk=85)
                  for n in range(2)]
        produce_classified(ours, first + second)  # the replay of the first batch, and two new ones
        # The restarted worker joins a fresh consumer group, so it re-reads the topic from the start: every
        # record again (the harshest replay), and no ~60 s wait for the killed member's session to expire.
        restarted = ours.model_copy(update={"worker": ours.worker.model_copy(
            update={"app_id": f"{ours.worker.app_id}-restarted"})})
        worker = start_worker(restarted, log_file=log_file)
        try:
            wait_for_mail(catcher, 6, timeout_s=120, worker=worker)
            time.sleep(3)  # a few more delivery passes: nothing else may arrive
        finally:
            stop_worker(worker)
        counts = by_alert_id(catcher.messages())
    expected = {(f"immediate:{i.mention.mention_id}", "hr@ims.example") for i in first + second}
    assert set(counts) == expected, log_file.read_text()[-3000:]
    assert set(counts.values()) == {1}

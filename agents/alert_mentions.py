"""``alert_mentions``: classified mentions into the alert outbox; timers that deliver and evaluate alerts.

Registered by ``create_app`` only when ``alerts.enabled``. Every Elasticsearch and SMTP call is blocking and
runs in an executor thread (one for the agent, one for the timers), never on the event loop:

- the agent batches ``mentions.classified`` (``stream.take``) and calls ``AlertService.enqueue``: immediate
  e-mails, digest entries and surge activity, all create-once, so a redelivered or replayed record, a restart
  or a second worker never queues a second e-mail. While Elasticsearch is down it retries the same batch
  (backpressure); mentions whose documents it refuses, or that the rules fail on, go to the dead-letter topic;
- ``deliver_alerts`` (every ``alerts.deliver_interval_s``) sends due e-mails; ``evaluate_alerts`` (every
  ``alerts.evaluate_interval_s``) composes due digests and checks for surges. Both are safe on every worker.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import faust
from elasticsearch import ApiError, ConnectionError, ConnectionTimeout

from agents.dead_letters import send_dead_letter
from agents.topics import PipelineTopics
from pipeline.alerts.service import AlertService
from pipeline.settings import Settings
from schemas.records import ClassifiedMention

STAGE = "alert_mentions"
BATCH_SIZE = 100
RETRY_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)
log = logging.getLogger(__name__)


def register(app: faust.App, topics: PipelineTopics, *, settings: Settings) -> faust.types.AgentT:
    rules = settings.alerts
    service = AlertService.from_settings(settings)  # builds clients; nothing connects until first use
    enqueue_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-enqueue")
    timer_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alerts-deliver")

    @app.agent(topics.classified, name=STAGE)
    async def alert_mentions(stream: faust.StreamT) -> None:
        loop = asyncio.get_running_loop()
        async for batch in stream.take(BATCH_SIZE, within=settings.worker.index_batch_within_s):
            items: list[ClassifiedMention] = list(batch)
            by_id = {item.mention.mention_id: item for item in items}
            attempt = 0
            while True:
                try:
                    report = await loop.run_in_executor(enqueue_executor, service.enqueue, items)
                    failures = report.failures
                    break
                except (ConnectionError, ConnectionTimeout) as exc:
                    retry = True
                    error: Exception = exc
                except ApiError as exc:  # 5xx and 429: the node is struggling; other refusals will not pass
                    retry = exc.meta.status >= 500 or exc.meta.status == 429
                    error = exc
                except Exception as exc:  # noqa: BLE001 - a batch the rules fail on is dead-lettered
                    log.exception("alert rules failed on a batch of %d", len(items))
                    retry, error = False, exc
                if not retry:
                    failures = {mention_id: f"{type(error).__name__}: {error}" for mention_id in by_id}
                    break
                delay = RETRY_BACKOFF_S[min(attempt, len(RETRY_BACKOFF_S) - 1)]
                attempt += 1
                log.warning("alert outbox unavailable (%s); retrying %d mentions in %.0fs", error, len(items), delay)
                await asyncio.sleep(delay)
            for mention_id, reason in failures.items():
                await send_dead_letter(
                    topics.dead_letter, stage=STAGE, reason=f"alerting failed: {reason}"[:2000],
                    error_type="AlertOutboxError", source_topic=topics.classified.get_topic_name(),
                    partition=None, offset=None, key=mention_id,
                    payload=by_id[mention_id].dumps() if mention_id in by_id else b"",
                )

    @app.timer(interval=rules.deliver_interval_s, name="deliver_alerts")
    async def deliver_alerts() -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(timer_executor, service.deliver_due)
        except Exception:  # noqa: BLE001 - the next tick retries; the worker must not die for it
            log.exception("alert delivery pass failed")

    @app.timer(interval=rules.evaluate_interval_s, name="evaluate_alerts")
    async def evaluate_alerts() -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(timer_executor, service.evaluate)
        except Exception:  # noqa: BLE001
            log.exception("alert evaluation pass failed (digests, surges)")

    return alert_mentions

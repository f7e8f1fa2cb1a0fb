"""``CollectorRunner``: runs every enabled source concurrently on one asyncio loop.

For each source it does what sources must not each reinvent:

* scheduling: one task per source; a poll walks the source's channels, following pages until the source
  says there are no more (or ``max_pages_per_poll``, after which the cursor resumes next poll), then sleeps
  ``poll_interval_s``;
* checkpoints: a page's mentions are produced, Kafka acknowledges them, and only then is the channel's cursor
  committed together with the ids just produced (``checkpoints.py``); a restart neither re-emits nor skips;
* rate limits: ``429`` (and the source's own "slow down" answers) wait ``Retry-After`` when given, else
  exponential backoff with jitter; timeouts, transport errors and 5xx back off the same way, up to
  ``max_retries``; ``min_interval_s`` spaces requests; a source's ``rate_limit_wait`` honours quota headers;
* matching and employee linkage: mentions carry ``matched_rule`` and, for declared employee accounts,
  ``author.is_employee`` and ``author.employee_id``; mentions no rule matches are dropped, except posts by
  declared employee accounts (HR reviews those whatever they mention), kept as ``matched_rule:
  employee_account`` unless ``keep_employee_posts: false``;
* health: per-source counters and status (``health()``; also written to ``health_file`` after each poll).

Run it through the CLI: ``ims-monitor collect --config config/collectors.yaml [--source NAME] [--once]
[--dry-run]``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from pipeline.collectors.base import (
    HttpRequest,
    HttpSource,
    Page,
    PollSource,
    ServerSource,
    Source,
    StreamSource,
    parse_retry_after,
)
from pipeline.collectors.checkpoints import Checkpoint, CheckpointStore
from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.errors import CollectorError, RetriesExhausted, SourceRequestError
from pipeline.collectors.matching import MentionMatcher
from pipeline.collectors.sinks import MentionSink
from schemas.validation import utc_now_iso

log = logging.getLogger(__name__)

EMPLOYEE_ACCOUNT_RULE = "employee_account"
"""``matched_rule`` of a post kept only because a declared employee account wrote it."""

USER_AGENT = "ims-monitor-collector/0.1 (+social media policy monitoring)"


@dataclass(frozen=True)
class RunPolicy:
    """How the runner treats one source (from the YAML entry, defaults from ``defaults:``)."""

    poll_interval_s: float = 300.0
    timeout_s: float = 30.0
    max_retries: int = 5
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0
    max_retry_after_s: float = 3600.0
    max_pages_per_poll: int = 50
    min_interval_s: float = 0.0
    idle_timeout_s: float = 5.0
    """Streams under ``--once``: stop after this long without an event."""


@dataclass
class ScheduledSource:
    source: Source
    policy: RunPolicy = field(default_factory=RunPolicy)


@dataclass
class SourceHealth:
    """Counters for one source since the runner started."""

    source: str
    network: str
    status: str = "idle"  # idle | polling | ok | backing_off | failing | stopped
    polls: int = 0
    requests: int = 0
    pages: int = 0
    fetched: int = 0
    produced: int = 0
    unmatched: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    retries: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_poll_at: str | None = None
    last_success_at: str | None = None


def backoff_delay(attempt: int, *, base_s: float, max_s: float) -> float:
    """Exponential backoff with ("equal") jitter: half the exponential step plus a random half."""
    step = min(max_s, base_s * (2 ** attempt))
    return step / 2 + random.uniform(0, step / 2)


class _Pacer:
    """Keeps at least ``interval`` seconds between a source's requests."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if self._next > now:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


class CollectorRunner:
    """Runs sources into a sink. ``await runner.run(once=True)`` polls everything once and returns."""

    def __init__(self, sources: list[ScheduledSource], *, sink: MentionSink, checkpoints: CheckpointStore,
                 matcher: MentionMatcher | None = None, employees: EmployeeRegistry | None = None,
                 transport: httpx.AsyncBaseTransport | None = None, health_file: Path | None = None,
                 keep_employee_posts: bool = True) -> None:
        names = [s.source.name for s in sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique: {names}")
        self.sources = sources
        self.sink = sink
        self.checkpoints = checkpoints
        self.matcher = matcher or MentionMatcher([])
        self.employees = employees or EmployeeRegistry()
        self.keep_employee_posts = keep_employee_posts
        self.transport = transport
        self.health_file = health_file
        self._health = {s.source.name: SourceHealth(source=s.source.name, network=s.source.network)
                        for s in sources}
        self.stop_event = asyncio.Event()

    # ------------------------------------------------------------------------------------------- public
    def health(self) -> dict[str, dict[str, Any]]:
        return {name: asdict(h) for name, h in self._health.items()}

    def stop(self) -> None:
        self.stop_event.set()

    async def run(self, *, once: bool = False) -> dict[str, dict[str, Any]]:
        """Run every source concurrently; with ``once``, one poll each (servers are skipped). Returns health."""
        self.stop_event = asyncio.Event()
        tasks = [asyncio.create_task(self._run_source(s, once=once), name=f"collect:{s.source.name}")
                 for s in self.sources]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self._write_health()
        return self.health()

    # ---------------------------------------------------------------------------------------- scheduling
    async def _run_source(self, scheduled: ScheduledSource, *, once: bool) -> None:
        source, health = scheduled.source, self._health[scheduled.source.name]
        if isinstance(source, ServerSource):
            if once:
                log.info("%s: a listening source; skipped by --once", source.name)
                health.status = "stopped"
                return
            await self._serve(scheduled)
            return
        policy = scheduled.policy
        while not self.stop_event.is_set():
            await self._poll(scheduled, once=once)
            if once:
                return
            wait = policy.poll_interval_s
            if health.consecutive_failures:
                # A failing source waits longer each time (up to backoff_max_s), never less than the interval.
                wait = max(wait, backoff_delay(health.consecutive_failures, base_s=policy.poll_interval_s,
                                               max_s=max(policy.backoff_max_s, policy.poll_interval_s)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=wait)

    async def _poll(self, scheduled: ScheduledSource, *, once: bool) -> None:
        source, health = scheduled.source, self._health[scheduled.source.name]
        health.polls += 1
        health.last_poll_at = utc_now_iso()
        health.status = "polling"
        failed = False
        for channel in source.channels():
            if self.stop_event.is_set():
                break
            try:
                if isinstance(source, HttpSource):
                    await self._poll_http(scheduled, channel)
                elif isinstance(source, PollSource):
                    await self._poll_client(scheduled, channel)
                elif isinstance(source, StreamSource):
                    await self._consume_stream(scheduled, channel, once=once)
                else:
                    raise TypeError(f"{source.name}: unsupported source type {type(source).__name__}")
            except (CollectorError, httpx.HTTPError, OSError, ValueError, KeyError, TypeError) as exc:
                if self.stop_event.is_set():
                    break  # interrupted while waiting: not a failure of the source
                # One channel's failure must not stop the others or the other sources.
                failed = True
                health.errors += 1
                health.last_error = f"{channel}: {type(exc).__name__}: {exc}"[:500]
                log.warning("%s [%s] failed: %s", source.name, channel, exc)
        if failed:
            health.consecutive_failures += 1
            health.status = "failing"
        else:
            health.consecutive_failures = 0
            health.status = "ok"
            health.last_success_at = utc_now_iso()
        log.info("%s: %s; produced %d, fetched %d, unmatched %d, duplicates %d, rate-limited %d (totals)",
                 source.name, health.status, health.produced, health.fetched, health.unmatched, health.duplicates,
                 health.rate_limited)
        self._write_health()

    # --------------------------------------------------------------------------------------------- http
    async def _poll_http(self, scheduled: ScheduledSource, channel: str) -> None:
        source = scheduled.source
        assert isinstance(source, HttpSource)
        policy = scheduled.policy
        checkpoint = self._load(source, channel)
        pacer = _Pacer(policy.min_interval_s)
        async with httpx.AsyncClient(base_url=source.base_url, timeout=policy.timeout_s, transport=self.transport,
                                     headers={"User-Agent": USER_AGENT, **source.auth_headers()},
                                     follow_redirects=True) as client:
            pages = 0
            while not self.stop_event.is_set():
                request = source.build_request(channel, checkpoint.cursor)
                response = await self._send(client, scheduled, request, pacer)
                page = source.parse_response(channel, checkpoint.cursor, response)
                await self._deliver_page(source, channel, checkpoint, page)
                pages += 1
                wait = source.rate_limit_wait(response)
                if not page.more or pages >= policy.max_pages_per_poll:
                    break
                if wait:
                    log.info("%s: quota spent, waiting %.1fs", source.name, wait)
                    await self._pause(min(wait, policy.max_retry_after_s))

    async def _send(self, client: httpx.AsyncClient, scheduled: ScheduledSource, request: HttpRequest,
                    pacer: _Pacer) -> httpx.Response:
        source = scheduled.source
        assert isinstance(source, HttpSource)
        policy, health = scheduled.policy, self._health[source.name]
        attempt = 0
        while True:
            await pacer.wait()
            health.requests += 1
            try:
                response = await client.request(request.method, request.url, params=request.params,
                                                headers=dict(request.headers), json=request.json)
            except httpx.TimeoutException as exc:
                reason, delay = f"timeout: {exc!r}", backoff_delay(attempt, base_s=policy.backoff_base_s,
                                                                  max_s=policy.backoff_max_s)
            except httpx.TransportError as exc:
                reason, delay = f"transport error: {exc!r}", backoff_delay(
                    attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
            else:
                status = response.status_code
                if source.is_rate_limited(response):
                    health.rate_limited += 1
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if retry_after is None:
                        retry_after = source.rate_limit_wait(response)
                    if retry_after is not None:
                        # Honour the server's figure (never less), with a little jitter on top.
                        delay = min(retry_after, policy.max_retry_after_s) + random.uniform(0, 0.1)
                    else:
                        delay = backoff_delay(attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
                    reason = f"rate limited ({status}), retrying in {delay:.2f}s"
                elif status >= 500 or status == 408:
                    reason = f"HTTP {status}"
                    delay = backoff_delay(attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
                elif status >= 400:
                    raise SourceRequestError(f"{request.method} {response.request.url} -> HTTP {status}: "
                                             f"{response.text[:300]}", status=status)
                else:
                    return response
            attempt += 1
            if attempt > policy.max_retries:
                raise RetriesExhausted(f"{source.name}: gave up after {attempt} attempts; last: {reason}")
            health.retries += 1
            health.status = "backing_off"
            log.info("%s: %s; attempt %d, waiting %.2fs", source.name, reason, attempt, delay)
            await self._pause(delay)

    # --------------------------------------------------------------------------------- client / stream
    async def _poll_client(self, scheduled: ScheduledSource, channel: str) -> None:
        source = scheduled.source
        assert isinstance(source, PollSource)
        policy, health = scheduled.policy, self._health[source.name]
        checkpoint = self._load(source, channel)
        pages = 0
        while not self.stop_event.is_set():
            attempt = 0
            while True:
                health.requests += 1
                try:
                    page = await asyncio.wait_for(source.fetch(channel, checkpoint.cursor,
                                                               timeout_s=policy.timeout_s),
                                                  timeout=policy.timeout_s * 2)
                    break
                except (TimeoutError, OSError) as exc:
                    if isinstance(exc, FileNotFoundError | PermissionError | IsADirectoryError):
                        raise  # not transient: retrying cannot help
                    attempt += 1
                    if attempt > policy.max_retries:
                        raise RetriesExhausted(f"{source.name}: gave up after {attempt} attempts: {exc!r}") from exc
                    health.retries += 1
                    health.status = "backing_off"
                    await self._pause(backoff_delay(attempt - 1, base_s=policy.backoff_base_s,
                                                    max_s=policy.backoff_max_s))
            await self._deliver_page(source, channel, checkpoint, page)
            pages += 1
            if not page.more or pages >= policy.max_pages_per_poll:
                break

    async def _consume_stream(self, scheduled: ScheduledSource, channel: str, *, once: bool) -> None:
        source = scheduled.source
        assert isinstance(source, StreamSource)
        policy, health = scheduled.policy, self._health[source.name]
        checkpoint = self._load(source, channel)
        attempt = 0
        while not self.stop_event.is_set():
            try:
                health.requests += 1
                async for page in source.stream(channel, checkpoint.cursor,
                                                idle_timeout_s=policy.idle_timeout_s if once else None):
                    await self._deliver_page(source, channel, checkpoint, page)
                    attempt = 0
                    health.status = "ok"
                    health.last_success_at = utc_now_iso()
                    if self.stop_event.is_set():
                        return
                if once:
                    return
                reason = "stream closed by the server"
            except (OSError, TimeoutError, CollectorError) as exc:
                if once:
                    raise
                reason = f"{type(exc).__name__}: {exc}"
            except Exception as exc:  # websockets' ConnectionClosed and friends
                if once:
                    raise CollectorError(f"{source.name}: stream failed: {exc!r}") from exc
                reason = f"{type(exc).__name__}: {exc}"
            health.retries += 1
            health.status = "backing_off"
            health.last_error = reason[:500]
            delay = backoff_delay(attempt, base_s=policy.backoff_base_s, max_s=policy.backoff_max_s)
            attempt += 1
            log.info("%s: %s; reconnecting in %.1fs", source.name, reason, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), timeout=delay)

    async def _serve(self, scheduled: ScheduledSource) -> None:
        source = scheduled.source
        assert isinstance(source, ServerSource)
        health = self._health[source.name]
        checkpoint = self._load(source, "default")
        lock = asyncio.Lock()

        async def deliver(mentions: list[dict[str, Any]]) -> int:
            async with lock:
                health.requests += 1
                return await self._deliver_page(source, "default", checkpoint,
                                                Page(mentions=mentions, cursor=checkpoint.cursor))

        health.status = "ok"
        await source.serve(deliver, stop=self.stop_event)
        health.status = "stopped"

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the runner is stopped (then raise, abandoning the page uncommitted)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_event.wait(), timeout=seconds)
        if self.stop_event.is_set():
            raise CollectorError("stopped while waiting")

    # ------------------------------------------------------------------------------------------ delivery
    def _load(self, source: Source, channel: str) -> Checkpoint:
        return self.checkpoints.load(source.name, channel) or Checkpoint(cursor=source.initial_cursor(channel))

    async def _deliver_page(self, source: Source, channel: str, checkpoint: Checkpoint, page: Page) -> int:
        """Match, link, de-duplicate, produce (waiting for Kafka), then commit the cursor. Returns produced."""
        health = self._health[source.name]
        health.pages += 1
        seen = set(checkpoint.seen)
        fresh: list[dict[str, Any]] = []
        for mention in page.mentions:
            health.fetched += 1
            mention_id = mention["mention_id"]
            if mention_id in seen:
                health.duplicates += 1
                continue
            self.employees.apply(mention)
            if not self.matcher.apply(mention):
                if not (self.keep_employee_posts and mention.get("author", {}).get("is_employee")):
                    health.unmatched += 1
                    continue
                mention["matched_rule"] = EMPLOYEE_ACCOUNT_RULE
            seen.add(mention_id)
            fresh.append(mention)
        if fresh:
            await self.sink.emit(fresh)
            health.produced += len(fresh)
        checkpoint.seen = checkpoint.remember([m["mention_id"] for m in fresh])
        checkpoint.cursor = page.cursor
        self.checkpoints.save(source.name, channel, checkpoint)
        return len(fresh)

    def _write_health(self) -> None:
        if self.health_file is None:
            return
        self.health_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.health_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"updated_at": utc_now_iso(), "sources": self.health()}, indent=2))
        tmp.replace(self.health_file)

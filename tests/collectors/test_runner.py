"""The runner's own behaviour: backoff on 5xx and timeouts, giving up, concurrency, the replay source."""

from __future__ import annotations

import asyncio
import io
import json
import time
from dataclasses import replace
from pathlib import Path

from aiohttp import web

from pipeline.collectors.base import newest_first_step, parse_retry_after
from pipeline.collectors.checkpoints import MemoryCheckpointStore
from pipeline.collectors.hackernews import HackerNewsCollector
from pipeline.collectors.jsonl_replay import JsonlReplaySource
from pipeline.collectors.runner import CollectorRunner, ScheduledSource, backoff_delay
from pipeline.collectors.sinks import JsonlMentionSink
from tests.collectors.helpers import FAST, LocalServer, make_source, run_once, sqlite_store
from tests.collectors.test_hackernews import FakeAlgolia

REPO = Path(__file__).resolve().parents[2]


def _flaky_app(api: FakeAlgolia, *, failures: list[str]) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        if failures:
            kind = failures.pop(0)
            if kind == "slow":
                await asyncio.sleep(1.5)
            else:
                return web.Response(status=int(kind), text="upstream trouble")
        return await api.search_by_date(request)

    app = web.Application()
    app.router.add_get("/api/v1/search_by_date", handler)
    return app


def test_5xx_and_timeouts_back_off_then_succeed() -> None:
    api = FakeAlgolia()
    api.add_story(1, "IMS")
    with LocalServer(_flaky_app(api, failures=["503", "slow", "500"])) as server:
        source = make_source(HackerNewsCollector, base_url=server.url, name="hn", query="IMS")
        mentions, health = run_once(source, policy=replace(FAST, timeout_s=0.5, max_retries=3))
    assert len(mentions) == 1 and health["retries"] == 3 and health["status"] == "ok"


def test_retries_are_bounded() -> None:
    api = FakeAlgolia()
    with LocalServer(_flaky_app(api, failures=["502"] * 10)) as server:
        source = make_source(HackerNewsCollector, base_url=server.url, name="hn", query="IMS")
        mentions, health = run_once(source, policy=replace(FAST, max_retries=2))
        assert len(server.requests) == 3
    assert mentions == [] and health["status"] == "failing" and "gave up after 3 attempts" in health["last_error"]


def test_sources_run_concurrently() -> None:
    slow_apis = [FakeAlgolia(), FakeAlgolia()]
    for n, api in enumerate(slow_apis):
        api.add_story(n + 1, "IMS")
    with LocalServer(_flaky_app(slow_apis[0], failures=["slow"])) as a, \
            LocalServer(_flaky_app(slow_apis[1], failures=["slow"])) as b:
        sources = [ScheduledSource(make_source(HackerNewsCollector, base_url=s.url, name=f"hn{i}", query="IMS"),
                                   replace(FAST, timeout_s=5)) for i, s in enumerate((a, b))]
        out = io.StringIO()
        runner = CollectorRunner(sources, sink=JsonlMentionSink(out), checkpoints=MemoryCheckpointStore())
        started = time.monotonic()
        asyncio.run(runner.run(once=True))
        elapsed = time.monotonic() - started
    assert len(out.getvalue().splitlines()) == 2 and elapsed < 2.8  # two 1.5 s answers, overlapped


def test_replay_source_resumes_at_the_byte_offset(tmp_path: Path) -> None:
    sample = REPO / "data" / "sample" / "mentions.jsonl"
    total = sum(1 for line in sample.read_text().splitlines() if line.strip())
    source = make_source(JsonlReplaySource, base_url=None, name="replay", path=str(sample), batch_size=100)
    first, _ = run_once(source, store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
    rest, _ = run_once(source, store=sqlite_store(tmp_path))
    assert len(first) == 100 and len(first) + len(rest) == total
    assert len({m["mention_id"] for m in first + rest}) == total
    assert run_once(source, store=sqlite_store(tmp_path))[0] == []


def test_cursor_helpers() -> None:
    keep, cursor, more = newest_first_step({"watermark": 5, "page": None, "run_top": None}, keys=[9, 8], next_page="p2")
    assert keep == [True, True] and cursor == {"watermark": 5, "page": "p2", "run_top": 9} and more
    keep, cursor, more = newest_first_step(cursor, keys=[6, 5, 4], next_page="p3")
    assert keep == [True, True, False] and cursor == {"watermark": 9, "page": None, "run_top": None} and not more
    assert parse_retry_after("7") == 7.0 and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert all(0.5 <= backoff_delay(0, base_s=1, max_s=60) <= 1.0 for _ in range(50))
    assert all(30 <= backoff_delay(10, base_s=1, max_s=60) <= 60 for _ in range(50))
    assert json.dumps(cursor)


def test_a_page_the_sink_did_not_acknowledge_is_produced_again_not_lost(tmp_path: Path) -> None:
    api = FakeAlgolia()
    for n in range(1, 4):
        api.add_story(n, f"IMS {n}")
    with LocalServer(api.app()) as server:
        def source() -> HackerNewsCollector:
            made = make_source(HackerNewsCollector, base_url=server.url, name="hn", query="IMS")
            assert isinstance(made, HackerNewsCollector)
            return made

        broken = io.StringIO()
        broken.close()  # every write fails, as a broker that never acknowledges would
        runner = CollectorRunner([ScheduledSource(source(), FAST)], sink=JsonlMentionSink(broken),
                                 checkpoints=sqlite_store(tmp_path))
        health = asyncio.run(runner.run(once=True))["hn"]
        assert health["status"] == "failing" and "DeliveryFailed" in health["last_error"]
        assert sqlite_store(tmp_path).load("hn", "default") is None  # the cursor did not move
        mentions, _ = run_once(source(), store=sqlite_store(tmp_path))
    assert sorted(m["source_id"] for m in mentions) == ["40000001", "40000002", "40000003"]


def test_stop_interrupts_a_long_retry_after_and_commits_nothing(tmp_path: Path) -> None:
    api = FakeAlgolia()
    api.add_story(1, "IMS")
    with LocalServer(api.app()) as server:
        server.throttle(1, headers={"Retry-After": "3600"}, body={"message": "Too many requests"})
        source = make_source(HackerNewsCollector, base_url=server.url, name="hn", query="IMS")
        store = sqlite_store(tmp_path)
        runner = CollectorRunner([ScheduledSource(source, FAST)], sink=JsonlMentionSink(io.StringIO()), checkpoints=store)

        async def scenario() -> dict:
            task = asyncio.create_task(runner.run())
            await asyncio.sleep(0.5)
            runner.stop()
            return await asyncio.wait_for(task, 5)

        started = time.monotonic()
        health = asyncio.run(scenario())["hn"]
    assert time.monotonic() - started < 3
    assert health["rate_limited"] == 1 and health["errors"] == 0 and store.load("hn", "default") is None

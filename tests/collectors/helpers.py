"""Test helpers: local API servers on 127.0.0.1 and a one-shot run of the real runner.

``LocalServer(app)`` serves an aiohttp application on a free port from a background thread, so the code
under test (which runs its own event loop, like the CLI does) talks to it over real HTTP; every request is
recorded in ``server.requests``. The applications themselves live in each test module and speak the wire
format of the API they stand in for.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.base import Source
from pipeline.collectors.checkpoints import CheckpointStore, SqliteCheckpointStore
from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.matching import MentionMatcher
from pipeline.collectors.runner import CollectorRunner, RunPolicy, ScheduledSource
from pipeline.collectors.sinks import JsonlMentionSink
from schemas.validation import raw_mention_from_dict


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class LocalServer:
    def __init__(self, app: web.Application) -> None:
        self.requests: list[RecordedRequest] = []
        self._throttled = 0
        self._throttle_headers: Any = {}
        self._throttle_body: Any = {}
        app.middlewares.append(self._record)
        self.app = app
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.query),
                                             dict(request.headers), time.monotonic()))
        if self._throttled:
            self._throttled -= 1
            headers = self._throttle_headers() if callable(self._throttle_headers) else self._throttle_headers
            return web.json_response(self._throttle_body, status=429, headers=headers)
        return await handler(request)

    def throttle(self, count: int, *, headers: Any, body: Any) -> None:
        """Answer the next ``count`` requests with 429, these headers (or a function making them) and body,
        as the API in question does when its limit is hit."""
        self._throttled, self._throttle_headers, self._throttle_body = count, headers, body

    def gap_after_429(self) -> float:
        """Seconds between the throttled request and the retry that followed it."""
        return self.requests[1].at - self.requests[0].at

    async def _start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> LocalServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def paths(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]


def make_source(cls: type[Source], *, base_url: str | None, name: str = "test", secrets: dict[str, str] | None = None,
                backfill_hours: float = 24 * 365 * 10, **options: Any) -> Source:
    from pydantic import SecretStr

    return cls(name=name, options=cls.Options.model_validate(options), base_url=base_url,
               secrets={k: SecretStr(v) for k, v in (secrets or {}).items()},
               backfill=timedelta(hours=backfill_hours))


FAST = RunPolicy(poll_interval_s=1, timeout_s=5, max_retries=3, backoff_base_s=0.05, backoff_max_s=0.2,
                 max_pages_per_poll=50, idle_timeout_s=1.0)


def run_once(source: Source, *, store: CheckpointStore | None = None, policy: RunPolicy = FAST,
             matcher: MentionMatcher | None = None,
             employees: EmployeeRegistry | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One poll of ``source`` through the real runner into a JSONL sink; returns (mentions, health)."""
    from pipeline.collectors.checkpoints import MemoryCheckpointStore

    out = io.StringIO()
    runner = CollectorRunner([ScheduledSource(source, policy)], sink=JsonlMentionSink(out),
                             checkpoints=store or MemoryCheckpointStore(), matcher=matcher, employees=employees)
    health = asyncio.run(runner.run(once=True))[source.name]
    mentions = [json.loads(line) for line in out.getvalue().splitlines()]
    for mention in mentions:
        raw_mention_from_dict(mention)  # what the pipeline's edge will accept
    return mentions, health


def sqlite_store(tmp_path: Path) -> SqliteCheckpointStore:
    return SqliteCheckpointStore(tmp_path / "checkpoints.sqlite3")


def ids(mentions: list[dict[str, Any]]) -> list[str]:
    return [m["source_id"] for m in mentions]

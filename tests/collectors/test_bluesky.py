"""Bluesky: app.bsky.feed.searchPosts over HTTP, and the Jetstream websocket, against local servers."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.bluesky import BlueskyJetstreamCollector, BlueskySearchCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
T = 1_795_000_000_000_000  # Jetstream time_us, November 2026


class FakeAppView:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def add(self, n: int, text: str, *, images: bool = False) -> None:
        uri = f"at://{DID}/app.bsky.feed.post/3kabc{n:04d}"
        post: dict[str, Any] = {
            "uri": uri, "cid": f"bafyrei{n}",
            "author": {"did": DID, "handle": "jane.bsky.social", "displayName": "Jane", "labels": []},
            "record": {"$type": "app.bsky.feed.post", "text": text, "createdAt": f"2026-11-20T09:{n:02d}:00.000Z",
                       "langs": ["en"]},
            "replyCount": 0, "repostCount": 3, "likeCount": 9, "quoteCount": 1,
            "indexedAt": f"2026-11-20T09:{n:02d}:01.000Z", "labels": [],
        }
        if images:
            post["embed"] = {"$type": "app.bsky.embed.images#view", "images": [
                {"thumb": f"https://cdn.bsky.app/img/feed_thumbnail/plain/{DID}/x{n}@jpeg",
                 "fullsize": f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/x{n}@jpeg", "alt": ""}]}
        self.posts.append(post)

    async def search(self, request: web.Request) -> web.Response:
        q = request.query
        assert q["sort"] == "latest"
        posts = sorted(self.posts, key=lambda p: p["record"]["createdAt"], reverse=True)
        if "since" in q:
            posts = [p for p in posts if p["record"]["createdAt"] >= q["since"].replace(".000000Z", ".000Z")]
        offset = int(q.get("cursor", "0"))
        limit = int(q.get("limit", 25))
        page = posts[offset:offset + limit]
        body: dict[str, Any] = {"posts": page, "hitsTotal": len(posts)}
        if offset + limit < len(posts):
            body["cursor"] = str(offset + limit)
        return web.json_response(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/xrpc/app.bsky.feed.searchPosts", self.search)
        return app


def _search(url: str) -> BlueskySearchCollector:
    source = make_source(BlueskySearchCollector, base_url=url, name="bsky", query="IMS", limit=2)
    assert isinstance(source, BlueskySearchCollector)
    return source


def test_search_posts_normalised_paged_and_restartable(tmp_path: Path) -> None:
    api = FakeAppView()
    for n in range(1, 6):
        api.add(n, f"IMS post {n}", images=n == 5)
    with LocalServer(api.app()) as server:
        first, _ = run_once(_search(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, _ = run_once(_search(server.url), store=sqlite_store(tmp_path))
        api.add(7, "IMS post 7")
        newer, _ = run_once(_search(server.url), store=sqlite_store(tmp_path))
        since = server.paths("/xrpc/app.bsky.feed.searchPosts")[-1].query["since"]
    assert [m["text"] for m in first] == ["IMS post 5", "IMS post 4"]
    assert [m["text"] for m in rest] == ["IMS post 3", "IMS post 2", "IMS post 1"]
    assert [m["text"] for m in newer] == ["IMS post 7"] and since.startswith("2026-11-20T09:05:00")
    top = first[0]
    assert top["source_id"] == f"at://{DID}/app.bsky.feed.post/3kabc0005"
    assert top["url"] == "https://bsky.app/profile/jane.bsky.social/post/3kabc0005"
    assert top["author"]["handle"] == "jane.bsky.social" and top["lang"] == "en"
    assert top["reach"] == {"followers": None, "likes": 9, "shares": 4}
    assert top["media_urls"] == [f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/x5@jpeg"]


# --------------------------------------------------------------------------------------------- jetstream
class FakeJetstream:
    """A websocket server speaking Jetstream's /subscribe protocol: JSON events from the cursor on."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.cursors: list[str | None] = []
        self.close_after_send = False
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def add_post(self, time_us: int, rkey: str, text: str) -> None:
        self.events.append({"did": DID, "time_us": time_us, "kind": "commit", "commit": {
            "rev": f"rev{time_us}", "operation": "create", "collection": "app.bsky.feed.post", "rkey": rkey,
            "record": {"$type": "app.bsky.feed.post", "createdAt": "2026-11-20T09:00:00.000Z", "langs": ["en"],
                       "text": text, "embed": {"$type": "app.bsky.embed.images", "images": [
                           {"alt": "", "image": {"$type": "blob", "ref": {"$link": "bafkreiimg"},
                                                 "mimeType": "image/jpeg", "size": 1000}}]}},
            "cid": f"bafyrei{rkey}"}})

    async def _handler(self, ws: Any) -> None:
        from urllib.parse import parse_qs, urlsplit

        query = parse_qs(urlsplit(ws.request.path).query)
        assert query["wantedCollections"] == ["app.bsky.feed.post"]
        cursor = query.get("cursor", [None])[0]
        self.cursors.append(cursor)
        for event in self.events:
            if cursor is None or event["time_us"] >= int(cursor):
                await ws.send(json.dumps(event))
        if self.close_after_send:
            await ws.close()  # as a server restart or a load balancer would
            return
        await ws.wait_closed()  # stay open and idle, like the real stream between posts

    def __enter__(self) -> FakeJetstream:
        from websockets.asyncio.server import serve

        self._thread.start()

        async def start() -> Any:
            return await serve(self._handler, "127.0.0.1", 0)

        self._server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


def test_jetstream_keyword_matching_and_cursor_resume(tmp_path: Path) -> None:
    stream = FakeJetstream()
    stream.events.append({"did": DID, "time_us": T + 1_000, "kind": "identity",
                          "identity": {"did": DID, "handle": "jane.bsky.social", "seq": 1, "time": "2026-11-20T09:00:00Z"}})
    stream.add_post(T + 1_001, "r1", "Working at IMS today")
    stream.add_post(T + 1_002, "r2", "nothing to see")
    stream.add_post(T + 1_003, "r3", "incident management solutions rocks")
    stream.events.append({"did": DID, "time_us": T + 1_004, "kind": "commit", "commit": {
        "rev": "x", "operation": "delete", "collection": "app.bsky.feed.post", "rkey": "r1"}})
    with stream:
        def source() -> BlueskyJetstreamCollector:
            made = make_source(BlueskyJetstreamCollector, base_url=stream.url, name="jet",
                               keywords=["IMS", "Incident Management"], flush_interval_s=0.2)
            assert isinstance(made, BlueskyJetstreamCollector)
            return made

        policy = replace(FAST, idle_timeout_s=0.8)
        first, health = run_once(source(), store=sqlite_store(tmp_path), policy=policy)
        stream.add_post(T + 1_010, "r4", "IMS again")
        second, _ = run_once(source(), store=sqlite_store(tmp_path), policy=policy)
    assert ids(first) == [f"at://{DID}/app.bsky.feed.post/r1", f"at://{DID}/app.bsky.feed.post/r3"]
    assert first[0]["author"]["handle"] == "jane.bsky.social"
    assert first[0]["url"] == "https://bsky.app/profile/jane.bsky.social/post/r1"
    assert first[0]["media_urls"] == [f"https://cdn.bsky.app/img/feed_fullsize/plain/{DID}/bafkreiimg@jpeg"]
    assert ids(second) == [f"at://{DID}/app.bsky.feed.post/r4"]
    assert stream.cursors[1] == str(T + 1_004)  # resumed from the last event's time_us
    assert health["status"] == "ok"


def test_search_429_waits_for_ratelimit_reset() -> None:
    import time

    api = FakeAppView()
    api.add(1, "IMS")
    with LocalServer(api.app()) as server:
        server.throttle(1, body={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, headers=lambda: {
            "ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(int(time.time()) + 2),
            "ratelimit-policy": "3000;w=300"})
        mentions, health = run_once(_search(server.url))
        assert server.gap_after_429() >= 1.0
    assert [m["text"] for m in mentions] == ["IMS"] and health["rate_limited"] == 1


def test_jetstream_reconnects_from_its_cursor_without_duplicates() -> None:
    import io

    from pipeline.collectors.checkpoints import MemoryCheckpointStore
    from pipeline.collectors.runner import CollectorRunner, ScheduledSource
    from pipeline.collectors.sinks import JsonlMentionSink

    stream = FakeJetstream()
    stream.close_after_send = True
    stream.add_post(T + 1, "a1", "IMS first")
    out = io.StringIO()

    async def scenario() -> None:
        source = make_source(BlueskyJetstreamCollector, base_url=stream.url, name="jet", keywords=["IMS"],
                             flush_interval_s=0.1)
        runner = CollectorRunner([ScheduledSource(source, FAST)], sink=JsonlMentionSink(out),
                                 checkpoints=MemoryCheckpointStore())
        task = asyncio.create_task(runner.run())
        for _ in range(100):
            if out.getvalue().count("\n") >= 1:
                break
            await asyncio.sleep(0.05)
        stream.add_post(T + 2, "a2", "IMS second")
        for _ in range(100):
            if out.getvalue().count("\n") >= 2 and len(stream.cursors) >= 3:
                break
            await asyncio.sleep(0.05)
        runner.stop()
        await asyncio.wait_for(task, 10)

    with stream:
        asyncio.run(scenario())
    produced = [json.loads(line)["source_id"] for line in out.getvalue().splitlines()]
    assert produced == [f"at://{DID}/app.bsky.feed.post/a1", f"at://{DID}/app.bsky.feed.post/a2"]
    assert str(T + 1) in stream.cursors[1:]  # reconnected from the last event it had seen

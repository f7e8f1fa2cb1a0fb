"""Tumblr /v2/tagged against a local server (meta/response envelope, NPF content, before=timestamp paging)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.tumblr import TumblrTaggedCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

T0 = 1_795_000_000


class FakeTumblr:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def add(self, n: int, text: str, *, ts: int | None = None) -> None:
        pid = 760_000_000_000 + n
        self.posts.append({
            "object_type": "post", "type": "blocks", "id": pid, "id_string": str(pid), "blog_name": f"blogger{n}",
            "blog": {"name": f"blogger{n}", "title": f"Blog {n}", "url": f"https://blogger{n}.tumblr.com/"},
            "post_url": f"https://www.tumblr.com/blogger{n}/{pid}/post", "timestamp": ts or T0 + n * 60,
            "date": "2026-11-18 08:13:20 GMT", "tags": ["ims uk"], "note_count": n, "summary": text[:20],
            "content": [{"type": "text", "text": text},
                        {"type": "image", "media": [{"url": f"https://64.media.tumblr.com/{n}/s1280x1920/a.jpg",
                                                     "type": "image/jpeg", "width": 1280, "height": 960}]}]})

    async def tagged(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("api_key") != "tk":
            return web.json_response({"meta": {"status": 401, "msg": "Unauthorized"}, "response": []}, status=401)
        assert q["tag"] == "ims uk"
        posts = sorted(self.posts, key=lambda p: -p["timestamp"])
        if "before" in q:
            posts = [p for p in posts if p["timestamp"] < int(q["before"])]
        return web.json_response({"meta": {"status": 200, "msg": "OK"}, "response": posts[:int(q.get("limit", 20))]})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v2/tagged", self.tagged)
        return app


def _source(url: str) -> TumblrTaggedCollector:
    source = make_source(TumblrTaggedCollector, base_url=url, name="tumblr", secrets={"api_key": "tk"},
                         tags=["ims uk"], limit=2)
    assert isinstance(source, TumblrTaggedCollector)
    return source


def test_tagged_posts_normalised_paged_restartable_and_same_second_posts_kept(tmp_path: Path) -> None:
    api = FakeTumblr()
    for n in range(1, 5):
        api.add(n, f"IMS post {n}")
    api.add(5, "IMS post 5 (same second as 2)", ts=T0 + 120)
    with LocalServer(api.app()) as server:
        first, _ = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, health = run_once(_source(server.url), store=sqlite_store(tmp_path))
        api.add(9, "IMS newest")
        newer, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
    everything = ids(first) + ids(rest)
    assert sorted(everything) == [str(760_000_000_000 + n) for n in range(1, 6)] and len(set(everything)) == 5
    assert ids(newer) == ["760000000009"]
    post = first[0]
    assert post["source"] == "tumblr" and post["text"] == "IMS post 4" and post["author"]["handle"] == "blogger4"
    assert post["url"] == "https://www.tumblr.com/blogger4/760000000004/post"
    assert post["media_urls"] == ["https://64.media.tumblr.com/4/s1280x1920/a.jpg"] and post["reach"]["likes"] == 4
    assert health["status"] == "ok"


def test_429_retry_after_is_honoured() -> None:
    api = FakeTumblr()
    api.add(1, "IMS")
    with LocalServer(api.app()) as server:
        server.throttle(1, headers={"Retry-After": "1"},
                        body={"meta": {"status": 429, "msg": "Limit Exceeded"}, "response": [],
                              "errors": [{"title": "Limit Exceeded", "code": 0, "detail": "Rate limit exceeded"}]})
        mentions, health = run_once(_source(server.url))
        assert server.gap_after_429() >= 1.0
    assert ids(mentions) == ["760000000001"] and health["rate_limited"] == 1

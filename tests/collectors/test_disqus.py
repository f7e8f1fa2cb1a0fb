"""Disqus forums/listPosts against a local server (cursor.next / hasNext paging, related=thread)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.disqus import DisqusCommentsCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store


class FakeDisqus:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []

    def add(self, n: int, text: str, *, spam: bool = False) -> None:
        self.posts.append({
            "id": str(6_000_000 + n), "forum": "localnews", "parent": None, "likes": n, "dislikes": 0,
            "isApproved": True, "isDeleted": False, "isSpam": spam, "isFlagged": False, "isEdited": False,
            "createdAt": f"2026-11-20T12:{n:02d}:00", "message": f"<p>{text}</p>", "raw_message": text,
            "author": {"username": f"reader{n}", "name": f"Reader {n}", "isAnonymous": False,
                       "profileUrl": f"https://disqus.com/by/reader{n}/"},
            "thread": {"id": "777", "link": "https://news.example/ims-contract", "title": "IMS wins contract",
                       "forum": "localnews"}})

    async def list_posts(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("api_key") != "dq":
            return web.json_response({"code": 5, "response": "Invalid API key"}, status=400)
        assert q["forum"] == "localnews" and q["order"] == "desc" and q["related"] == "thread"
        posts = sorted(self.posts, key=lambda p: p["createdAt"], reverse=True)
        start = int(q["cursor"].split(":")[1]) if "cursor" in q else 0
        limit = int(q["limit"])
        page = posts[start:start + limit]
        has_next = start + limit < len(posts)
        return web.json_response({"code": 0, "response": page, "cursor": {
            "prev": None, "hasNext": has_next, "next": f"1795000000:{start + limit}:0" if has_next else None,
            "hasPrev": start > 0, "total": None, "id": f"1795000000:{start}:0", "more": has_next}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/3.0/forums/listPosts.json", self.list_posts)
        return app


def test_comments_normalised_paged_and_restartable(tmp_path: Path) -> None:
    api = FakeDisqus()
    for n in range(1, 6):
        api.add(n, f"IMS comment {n}", spam=n == 3)
    with LocalServer(api.app()) as server:
        def source() -> DisqusCommentsCollector:
            made = make_source(DisqusCommentsCollector, base_url=server.url, name="disqus",
                               secrets={"api_key": "dq"}, forums=["localnews"], limit=2)
            assert isinstance(made, DisqusCommentsCollector)
            return made

        server.throttle(1, headers={"Retry-After": "1"}, body={"code": 13, "response": "You have exceeded your hourly limit of requests"})
        first, health = run_once(source(), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        assert server.gap_after_429() >= 1.0 and health["rate_limited"] == 1
        rest, _ = run_once(source(), store=sqlite_store(tmp_path))
        api.add(9, "IMS newest")
        newer, _ = run_once(source(), store=sqlite_store(tmp_path))
    assert ids(first) == ["disqus:6000005", "disqus:6000004"]
    assert ids(rest) == ["disqus:6000002", "disqus:6000001"]  # 6000003 was flagged as spam
    assert ids(newer) == ["disqus:6000009"]
    comment = first[0]
    assert comment["source"] == "news_comment" and comment["text"] == "IMS comment 5"
    assert comment["url"] == "https://news.example/ims-contract#comment-6000005"
    assert comment["created_at"] == "2026-11-20T12:05:00.000000Z" and comment["author"]["handle"] == "reader5"

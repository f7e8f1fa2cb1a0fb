"""Hacker News (Algolia) against a local server with the same API: search_by_date, numericFilters, pages."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.hackernews import HackerNewsCollector
from pipeline.collectors.matching import MatchRule, MentionMatcher
from tests.collectors.helpers import LocalServer, ids, make_source, run_once, sqlite_store

BASE_TIME = 1_795_000_000


class FakeAlgolia:
    def __init__(self) -> None:
        self.hits: list[dict[str, Any]] = []
        self.throttle = 0  # answer this many requests with 429 + Retry-After first

    def add_story(self, n: int, text: str, *, author: str = "pg") -> None:
        created = BASE_TIME + n * 60
        self.hits.append({"objectID": str(40_000_000 + n), "created_at_i": created,
                          "created_at": f"2026-11-18T{(n // 60) % 24:02d}:{n % 60:02d}:00.000Z",
                          "author": author, "title": text, "url": f"https://blog.example/{n}",
                          "story_text": None, "comment_text": None, "points": n, "num_comments": 0,
                          "story_id": None, "parent_id": None, "_tags": ["story", f"author_{author}"]})

    def add_comment(self, n: int, html_text: str, *, story_title: str) -> None:
        created = BASE_TIME + n * 60
        self.hits.append({"objectID": str(40_000_000 + n), "created_at_i": created,
                          "created_at": f"2026-11-18T{(n // 60) % 24:02d}:{n % 60:02d}:00.000Z",
                          "author": "commenter", "title": None, "url": None, "story_text": None,
                          "comment_text": html_text, "story_title": story_title, "points": None,
                          "story_id": 1, "parent_id": 1, "_tags": ["comment"]})

    async def search_by_date(self, request: web.Request) -> web.Response:
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"message": "Too many requests", "status": 429}, status=429,
                                     headers={"Retry-After": "1"})
        q = request.query
        hits = sorted(self.hits, key=lambda h: -h["created_at_i"])
        match = re.fullmatch(r"created_at_i>=(\d+)", q.get("numericFilters", "created_at_i>=0"))
        assert match, q.get("numericFilters")
        hits = [h for h in hits if h["created_at_i"] >= int(match.group(1))]
        per_page, page = int(q.get("hitsPerPage", 20)), int(q.get("page", 0))
        chunk = hits[page * per_page:(page + 1) * per_page]
        return web.json_response({"hits": chunk, "nbHits": len(hits), "page": page,
                                  "nbPages": math.ceil(len(hits) / per_page), "hitsPerPage": per_page,
                                  "exhaustiveNbHits": True, "query": q.get("query", ""), "params": request.query_string})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/search_by_date", self.search_by_date)
        return app


def _source(url: str) -> HackerNewsCollector:
    source = make_source(HackerNewsCollector, base_url=url, name="hn", query="IMS", hits_per_page=3)
    assert isinstance(source, HackerNewsCollector)
    return source


def test_normalises_stories_and_comments_across_pages() -> None:
    api = FakeAlgolia()
    for n in range(1, 6):
        api.add_story(n, f"IMS story {n}")
    api.add_comment(6, "<p>I worked at <i>IMS</i> &amp; it was fine</p>", story_title="Ask HN: incident tools")
    with LocalServer(api.app()) as server:
        mentions, health = run_once(_source(server.url))
    assert ids(mentions) == [str(40_000_000 + n) for n in (6, 5, 4, 3, 2, 1)]
    assert health["pages"] == 2 and health["produced"] == 6 and health["status"] == "ok"
    comment, story = mentions[0], mentions[1]
    assert comment["text"] == "Re: Ask HN: incident tools\n\nI worked at IMS & it was fine"
    assert comment["source"] == "hackernews" and comment["author"]["handle"] == "commenter"
    assert story["url"] == "https://news.ycombinator.com/item?id=40000005"
    assert story["reach"] == {"followers": None, "likes": 5, "shares": None}
    assert story["created_at"] == "2026-11-18T00:05:00.000000Z"
    assert story["mention_id"] == "hackernews:40000005"
    assert [r.query["page"] for r in server.paths("/api/v1/search_by_date")] == ["0", "1"]


def test_429_retry_after_is_honoured() -> None:
    api = FakeAlgolia()
    api.add_story(1, "IMS")
    api.throttle = 1
    with LocalServer(api.app()) as server:
        mentions, health = run_once(_source(server.url))
    calls = server.paths("/api/v1/search_by_date")
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 1.0
    assert ids(mentions) == ["40000001"] and health["rate_limited"] == 1 and health["retries"] == 1


def test_restart_neither_re_emits_nor_skips(tmp_path: Path) -> None:
    api = FakeAlgolia()
    for n in range(1, 8):
        api.add_story(n, f"IMS story {n}")
    from dataclasses import replace

    from tests.collectors.helpers import FAST
    with LocalServer(api.app()) as server:
        # A poll that stops after one page (as a crash after the commit would), then a fresh process.
        first, _ = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
        assert len(first) == 3
        assert sorted(ids(first) + ids(rest)) == sorted(str(40_000_000 + n) for n in range(1, 8))
        api.add_story(8, "IMS story 8")
        api.add_story(9, "not about the company")
        again, health = run_once(_source(server.url), store=sqlite_store(tmp_path),
                                 matcher=MentionMatcher([MatchRule.parse("ims", "IMS")]))
        assert ids(again) == ["40000008"]
        assert again[0]["matched_rule"] == "ims" and health["unmatched"] == 1
        assert run_once(_source(server.url), store=sqlite_store(tmp_path),
                        matcher=MentionMatcher([MatchRule.parse("ims", "IMS")]))[0] == []

"""Discourse /search.json against a local server (posts + topics, grouped_search_result.more_posts, page=N)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.discourse import DiscourseSearchCollector
from tests.collectors.helpers import FAST, LocalServer, make_source, run_once, sqlite_store

PER_PAGE = 2  # real Discourse uses 50


class FakeDiscourse:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.topics = {7: {"id": 7, "title": "IMS &amp; on-call rotas", "fancy_title": "IMS &amp; on-call rotas",
                           "slug": "ims-on-call-rotas", "posts_count": 9, "reply_count": 3, "created_at":
                           "2026-11-01T00:00:00.000Z", "category_id": 4, "tags": []}}

    def add(self, n: int, blurb: str) -> None:
        self.posts.append({"id": 500 + n, "name": f"User {n}", "username": f"user{n}",
                           "avatar_template": "/letter_avatar_proxy/v4/letter/u/{size}.png",
                           "created_at": f"2026-11-2{n // 10}T10:0{n % 10}:00.000Z", "like_count": n,
                           "blurb": blurb, "post_number": n, "topic_title_headline": "IMS on-call rotas",
                           "topic_id": 7})

    async def search(self, request: web.Request) -> web.Response:
        q = request.query["q"]
        assert "order:latest" in q and " after:" in q
        if request.headers.get("Api-Key") != "k" or request.headers.get("Api-Username") != "monitor":
            return web.json_response({"errors": ["You are not permitted to view the requested resource."],
                                      "error_type": "invalid_access"}, status=403)
        page = int(request.query.get("page", "1"))
        posts = sorted(self.posts, key=lambda p: p["created_at"], reverse=True)
        chunk = posts[(page - 1) * PER_PAGE:page * PER_PAGE]
        more = page * PER_PAGE < len(posts)
        return web.json_response({
            "posts": chunk, "topics": [self.topics[7]] if chunk else [], "users": [], "categories": [], "tags": [],
            "groups": [], "grouped_search_result": {"more_posts": True if more else None, "more_users": None,
                                                    "more_categories": None, "term": q, "search_log_id": 3,
                                                    "more_full_page_results": None, "can_create_topic": False,
                                                    "error": None, "post_ids": [p["id"] for p in chunk],
                                                    "user_ids": [], "category_ids": [], "tag_ids": [], "group_ids": []}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/search.json", self.search)
        return app


def _source(url: str) -> DiscourseSearchCollector:
    source = make_source(DiscourseSearchCollector, base_url=url, name="forum", secrets={"api_key": "k"},
                         query="IMS", api_username="monitor")
    assert isinstance(source, DiscourseSearchCollector)
    return source


def test_posts_are_normalised_paged_and_restartable(tmp_path: Path) -> None:
    api = FakeDiscourse()
    for n in range(1, 6):
        api.add(n, f"... the IMS rota {n} ...")
    with LocalServer(api.app()) as server:
        first, _ = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, health = run_once(_source(server.url), store=sqlite_store(tmp_path))
        api.add(9, "newest IMS post")
        newer, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
        pages = [r.query["page"] for r in server.paths("/search.json")]
    assert [m["source_id"].split("/")[-1] for m in first] == ["505", "504"]
    assert [m["source_id"].split("/")[-1] for m in rest] == ["503", "502", "501"]
    assert [m["source_id"].split("/")[-1] for m in newer] == ["509"]
    # Resumed at page 2 after the interrupted run; the next poll stopped once it reached older posts.
    assert pages == ["1", "2", "3", "1", "2"]
    post = first[0]
    assert post["source"] == "forum" and post["source_id"] == "127.0.0.1/posts/505"
    assert post["text"] == "IMS & on-call rotas\n\n... the IMS rota 5 ..."
    assert post["url"].endswith("/t/ims-on-call-rotas/7/5") and post["author"]["handle"] == "user5"
    assert post["reach"]["likes"] == 5 and health["status"] == "ok"


def test_a_forbidden_answer_is_reported_not_retried() -> None:
    api = FakeDiscourse()
    with LocalServer(api.app()) as server:
        source = make_source(DiscourseSearchCollector, base_url=server.url, name="forum", query="IMS")
        mentions, health = run_once(source)
    assert mentions == [] and health["status"] == "failing" and "HTTP 403" in health["last_error"]


def test_429_retry_after_is_honoured() -> None:
    api = FakeDiscourse()
    api.add(1, "IMS")
    with LocalServer(api.app()) as server:
        server.throttle(1, headers={"Retry-After": "1"}, body={
            "errors": ["You've performed this action too many times. Please wait 1 second before trying again."],
            "error_type": "rate_limit", "extras": {"wait_seconds": 1, "time_left": "1 second"}})
        mentions, health = run_once(_source(server.url))
        assert server.gap_after_429() >= 1.0
    assert len(mentions) == 1 and health["rate_limited"] == 1

"""Meta Graph API against a local server: Page /tagged, Instagram hashtag search + recent_media, /tags;
``paging.cursors.after``, rate limits as error code 4 / 32 with X-Business-Use-Case-Usage."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.facebook_graph import FacebookPageCollector, InstagramHashtagCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

TOKEN = "EAAG-test"


def _page(request: web.Request, items: list[dict[str, Any]], size: int) -> dict[str, Any]:
    start = int(request.query["after"].removeprefix("c")) if "after" in request.query else 0
    chunk = items[start:start + size]
    body: dict[str, Any] = {"data": chunk}
    if chunk:
        body["paging"] = {"cursors": {"before": f"c{start}", "after": f"c{start + len(chunk)}"}}
        if start + size < len(items):
            body["paging"]["next"] = f"{request.url.with_query({**request.query, 'after': f'c{start + size}'})}"
    return body


class FakeGraph:
    def __init__(self) -> None:
        self.tagged: list[dict[str, Any]] = []
        self.hashtag_media: list[dict[str, Any]] = []
        self.user_tags: list[dict[str, Any]] = []
        self.throttle = 0

    def _check(self, request: web.Request) -> web.Response | None:
        if request.query.get("access_token") != TOKEN:
            return web.json_response({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                                                "code": 190, "fbtrace_id": "A1"}}, status=400)
        if self.throttle:
            self.throttle -= 1
            usage = {"123": [{"type": "pages", "call_count": 100, "total_cputime": 10, "total_time": 10,
                              "estimated_time_to_regain_access": 0}]}
            return web.json_response({"error": {"message": "(#32) Page request limit reached", "type": "OAuthException",
                                                "code": 32, "fbtrace_id": "A2"}}, status=400,
                                     headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
        return None

    async def page_tagged(self, request: web.Request) -> web.Response:
        if (error := self._check(request)) is not None:
            return error
        assert "message" in request.query["fields"]
        items = sorted(self.tagged, key=lambda p: p["created_time"], reverse=True)
        return web.json_response(_page(request, items, int(request.query["limit"])))

    async def hashtag_search(self, request: web.Request) -> web.Response:
        if (error := self._check(request)) is not None:
            return error
        assert request.query["user_id"] == "17841400000000001"
        return web.json_response({"data": [{"id": "17843853986012965"}] if request.query["q"] == "imsuk" else []})

    async def recent_media(self, request: web.Request) -> web.Response:
        if (error := self._check(request)) is not None:
            return error
        assert request.match_info["hashtag_id"] == "17843853986012965"
        items = sorted(self.hashtag_media, key=lambda m: m["timestamp"], reverse=True)
        return web.json_response(_page(request, items, int(request.query["limit"])))

    async def tags(self, request: web.Request) -> web.Response:
        if (error := self._check(request)) is not None:
            return error
        assert "username" in request.query["fields"]
        return web.json_response(_page(request, self.user_tags, int(request.query["limit"])))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v21.0/104000000000001/tagged", self.page_tagged)
        app.router.add_get("/v21.0/ig_hashtag_search", self.hashtag_search)
        app.router.add_get("/v21.0/{hashtag_id}/recent_media", self.recent_media)
        app.router.add_get("/v21.0/17841400000000001/tags", self.tags)
        return app


def test_facebook_page_tagged_posts(tmp_path: Path) -> None:
    api = FakeGraph()
    for n in range(1, 6):
        api.tagged.append({"id": f"104000000000001_{n}", "message": f"Thanks IMS {n}",
                           "created_time": f"2026-11-20T1{n}:00:00+0000", "permalink_url": f"https://www.facebook.com/p/{n}",
                           "from": {"name": f"Person {n}", "id": f"10{n}"},
                           "full_picture": f"https://scontent.xx.fbcdn.net/{n}.jpg"})
    api.throttle = 1
    with LocalServer(api.app()) as server:
        def source() -> FacebookPageCollector:
            made = make_source(FacebookPageCollector, base_url=server.url, name="fb", secrets={"access_token": TOKEN},
                               page_id="104000000000001", limit=2)
            assert isinstance(made, FacebookPageCollector)
            return made

        first, health = run_once(source(), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, _ = run_once(source(), store=sqlite_store(tmp_path))
        stored = sqlite_store(tmp_path).load("fb", "default")
    assert health["rate_limited"] == 1
    assert ids(first) == ["104000000000001_5", "104000000000001_4"]
    assert ids(rest) == ["104000000000001_3", "104000000000001_2", "104000000000001_1"]
    post = first[0]
    assert post["source"] == "facebook" and post["text"] == "Thanks IMS 5" and post["author"]["handle"] == "105"
    assert post["author"]["display_name"] == "Person 5" and post["created_at"] == "2026-11-20T15:00:00.000000Z"
    assert post["media_urls"] == ["https://scontent.xx.fbcdn.net/5.jpg"]
    assert stored is not None and TOKEN not in json.dumps(stored.cursor)  # the access token is never persisted


def test_instagram_hashtag_media_and_tags(tmp_path: Path) -> None:
    api = FakeGraph()
    for n in range(1, 4):
        api.hashtag_media.append({"id": f"1790000000000{n}", "caption": f"#imsuk team day {n}", "media_type": "IMAGE",
                                  "media_url": f"https://scontent.cdninstagram.com/{n}.jpg",
                                  "permalink": f"https://www.instagram.com/p/ABC{n}/",
                                  "timestamp": f"2026-11-20T0{n}:00:00+0000", "like_count": n, "comments_count": 0})
    api.user_tags.append({"id": "17900000000099", "caption": "tagged @ims_uk", "media_type": "IMAGE",
                          "media_url": "https://scontent.cdninstagram.com/t.jpg", "permalink": "https://www.instagram.com/p/T/",
                          "timestamp": "2026-11-20T09:00:00+0000", "username": "jane_doe", "like_count": 7,
                          "comments_count": 1})
    with LocalServer(api.app()) as server:
        def source() -> InstagramHashtagCollector:
            made = make_source(InstagramHashtagCollector, base_url=server.url, name="ig",
                               secrets={"access_token": TOKEN}, ig_user_id="17841400000000001", hashtags=["#imsuk"],
                               include_tags=True, limit=2)
            assert isinstance(made, InstagramHashtagCollector)
            return made

        first, health = run_once(source(), store=sqlite_store(tmp_path))
        api.hashtag_media.append({"id": "17900000000009", "caption": "#imsuk newest", "media_type": "IMAGE",
                                  "permalink": "https://www.instagram.com/p/N/", "timestamp": "2026-11-20T08:00:00+0000"})
        again, _ = run_once(source(), store=sqlite_store(tmp_path))
        searches = server.paths("/v21.0/ig_hashtag_search")
    assert ids(first) == ["17900000000003", "17900000000002", "17900000000001", "17900000000099"]
    assert ids(again) == ["17900000000009"] and len(searches) == 1  # the hashtag id is looked up once
    media = first[0]
    assert media["source"] == "instagram" and media["url"] == "https://www.instagram.com/p/ABC3/"
    assert media["author"]["handle"] == "unknown" and media["reach"]["likes"] == 3
    assert first[-1]["author"]["handle"] == "jane_doe" and health["status"] == "ok"

"""X API v2 recent search against a local server with its wire format (since_id, next_token, includes)."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.x import XRecentSearchCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

TOKEN = "test-bearer-token"


class FakeX:
    def __init__(self) -> None:
        self.tweets: list[dict[str, Any]] = []
        self.users = {"11": {"id": "11", "username": "commuter_carla", "name": "Carla",
                             "public_metrics": {"followers_count": 840, "following_count": 10, "tweet_count": 5,
                                                "listed_count": 0}},
                      "12": {"id": "12", "username": "Jane_Doe", "name": "Jane",
                             "public_metrics": {"followers_count": 12, "following_count": 1, "tweet_count": 9,
                                                "listed_count": 0}}}
        self.media = {"3_1": {"media_key": "3_1", "type": "photo", "url": "https://pbs.twimg.com/media/a.jpg"},
                      "7_2": {"media_key": "7_2", "type": "video",
                              "preview_image_url": "https://pbs.twimg.com/ext_tw_video_thumb/b.jpg"}}
        self.throttle = 0

    def add(self, tweet_id: int, text: str, *, author: str = "11", media: list[str] | None = None) -> None:
        tweet = {"id": str(tweet_id), "text": text, "author_id": author, "lang": "en",
                 "created_at": f"2026-11-20T10:{tweet_id % 60:02d}:00.000Z", "edit_history_tweet_ids": [str(tweet_id)],
                 "conversation_id": str(tweet_id),
                 "public_metrics": {"retweet_count": 2, "reply_count": 1, "like_count": 7, "quote_count": 1,
                                    "bookmark_count": 0, "impression_count": 300}}
        if media:
            tweet["attachments"] = {"media_keys": media}
        self.tweets.append(tweet)

    async def recent(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"title": "Unauthorized", "type": "about:blank", "status": 401,
                                      "detail": "Unauthorized"}, status=401)
        reset = str(int(time.time()) + 2)
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"title": "Too Many Requests", "detail": "Too Many Requests",
                                      "type": "about:blank", "status": 429}, status=429,
                                     headers={"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0",
                                              "x-rate-limit-reset": reset})
        q = request.query
        assert q["expansions"] == "author_id,attachments.media_keys" and "public_metrics" in q["tweet.fields"]
        tweets = sorted(self.tweets, key=lambda t: -int(t["id"]))
        if "since_id" in q:
            tweets = [t for t in tweets if int(t["id"]) > int(q["since_id"])]
        else:
            assert "start_time" in q
        offset = int(base64.b64decode(q["next_token"])) if "next_token" in q else 0
        size = int(q.get("max_results", 10))
        page = tweets[offset:offset + size]
        headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "449", "x-rate-limit-reset": reset}
        if not page:
            return web.json_response({"meta": {"result_count": 0}}, headers=headers)
        meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if offset + size < len(tweets):
            meta["next_token"] = base64.b64encode(str(offset + size).encode()).decode()
        user_ids = {t["author_id"] for t in page}
        media_keys = {k for t in page for k in (t.get("attachments") or {}).get("media_keys", [])}
        includes: dict[str, Any] = {"users": [self.users[u] for u in sorted(user_ids)]}
        if media_keys:
            includes["media"] = [self.media[k] for k in sorted(media_keys)]
        return web.json_response({"data": page, "includes": includes, "meta": meta}, headers=headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/2/tweets/search/recent", self.recent)
        return app


def _source(url: str, **options: Any) -> XRecentSearchCollector:
    source = make_source(XRecentSearchCollector, base_url=url, name="x", secrets={"bearer_token": TOKEN},
                         query="IMS", max_results=10, **options)
    assert isinstance(source, XRecentSearchCollector)
    return source


def test_normalises_tweets_with_users_and_media() -> None:
    api = FakeX()
    api.add(1001, "IMS ran the drill well", media=["3_1"])
    api.add(1002, "IMS video", author="12", media=["7_2"])
    with LocalServer(api.app()) as server:
        mentions, health = run_once(_source(server.url),
                                    employees=EmployeeRegistry.from_csv_text("employee_id,network,handle\nE7,x,jane_doe\n"))
    assert ids(mentions) == ["1002", "1001"]
    video, photo = mentions
    assert photo == {**photo, "source": "twitter", "mention_id": "twitter:1001", "lang": "en",
                     "url": "https://x.com/commuter_carla/status/1001", "created_at": "2026-11-20T10:41:00.000000Z",
                     "reach": {"followers": 840, "likes": 7, "shares": 3},
                     "media_urls": ["https://pbs.twimg.com/media/a.jpg"]}
    assert photo["author"] == {"handle": "commuter_carla", "display_name": "Carla", "is_employee": False,
                               "employee_id": None}
    assert video["author"]["is_employee"] is True and video["author"]["employee_id"] == "E7"
    assert video["media_urls"] == ["https://pbs.twimg.com/ext_tw_video_thumb/b.jpg"]


def test_pages_then_polls_with_since_id_and_restarts_exactly(tmp_path: Path) -> None:
    api = FakeX()
    for n in range(1, 26):
        api.add(2000 + n, f"IMS post {n}")
    with LocalServer(api.app()) as server:
        first, _ = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=2))
        rest, health = run_once(_source(server.url), store=sqlite_store(tmp_path))
        assert len(first) == 20 and len(rest) == 5 and health["pages"] == 1
        assert sorted(ids(first) + ids(rest)) == [str(2000 + n) for n in range(1, 26)]
        api.add(2100, "IMS new one")
        newer, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
        assert ids(newer) == ["2100"]
        calls = server.paths("/2/tweets/search/recent")
        assert calls[-1].query["since_id"] == "2025"  # the newest id of the finished run
        assert "next_token" in calls[1].query and "next_token" in calls[2].query
        assert run_once(_source(server.url), store=sqlite_store(tmp_path))[0] == []


def test_429_waits_for_the_rate_limit_reset() -> None:
    api = FakeX()
    api.add(3001, "IMS")
    api.throttle = 1
    with LocalServer(api.app()) as server:
        mentions, health = run_once(_source(server.url))
    calls = server.paths("/2/tweets/search/recent")
    assert ids(mentions) == ["3001"] and health["rate_limited"] == 1
    assert calls[1].at - calls[0].at >= 1.0  # waited until x-rate-limit-reset (1-2 s away)


def test_a_wrong_token_fails_the_source_without_retrying() -> None:
    api = FakeX()
    with LocalServer(api.app()) as server:
        source = make_source(XRecentSearchCollector, base_url=server.url, name="x", secrets={"bearer_token": "nope"},
                             query="IMS")
        mentions, health = run_once(source)
    assert mentions == [] and health["status"] == "failing" and "HTTP 401" in health["last_error"]
    assert len(server.requests) == 1

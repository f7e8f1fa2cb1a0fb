"""Mastodon hashtag timeline and v2 search against a local server (min_id forward paging, Link headers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.mastodon import MastodonCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

ID0 = 1_795_000_000_000 << 16  # a Snowflake-like id from November 2026


class FakeMastodon:
    def __init__(self) -> None:
        self.statuses: list[dict[str, Any]] = []
        self.host = ""

    def add(self, n: int, html: str, *, tags: list[str], acct: str = "alice", reblog: bool = False) -> None:
        sid = str(ID0 + n * 1000)
        self.statuses.append({
            "id": sid, "uri": f"https://remote.example/users/{acct}/statuses/{sid}",
            "url": f"https://remote.example/@{acct}/{sid}", "created_at": "2026-11-19T08:00:00.000Z",
            "content": html, "spoiler_text": "", "language": "en", "visibility": "public", "sensitive": False,
            "account": {"id": "9", "username": acct.split("@")[0], "acct": acct, "display_name": acct.title(),
                        "followers_count": 42, "following_count": 1, "statuses_count": 3,
                        "url": f"https://remote.example/@{acct}"},
            "media_attachments": [{"id": "1", "type": "image", "url": f"https://files.example/{n}.png",
                                   "preview_url": f"https://files.example/{n}_s.png", "description": None}],
            "favourites_count": 5, "reblogs_count": 2, "replies_count": 0,
            "tags": [{"name": t, "url": f"https://remote.example/tags/{t}"} for t in tags],
            "reblog": {"id": "1"} if reblog else None,
        })

    def _select(self, request: web.Request, statuses: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
        q = request.query
        limit = int(q.get("limit", 20))
        ordered = sorted(statuses, key=lambda s: int(s["id"]))
        if "min_id" in q:  # the statuses immediately newer than min_id
            page = [s for s in ordered if int(s["id"]) > int(q["min_id"])][:limit]
        else:
            page = ordered[-limit:]
        page = sorted(page, key=lambda s: -int(s["id"]))
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299",
                   "X-RateLimit-Reset": "2026-11-24T18:00:00.000Z"}
        if page:
            base = f"{self.host}{request.path}"
            headers["Link"] = (f'<{base}?max_id={page[-1]["id"]}>; rel="next", '
                               f'<{base}?min_id={page[0]["id"]}>; rel="prev"')
        return page, headers

    async def tag(self, request: web.Request) -> web.Response:
        tag = request.match_info["hashtag"].lower()
        page, headers = self._select(request, [s for s in self.statuses if tag in [t["name"] for t in s["tags"]]])
        return web.json_response(page, headers=headers)

    async def search(self, request: web.Request) -> web.Response:
        assert request.query["type"] == "statuses"
        if request.headers.get("Authorization") != "Bearer tok":
            return web.json_response({"accounts": [], "statuses": [], "hashtags": []})
        term = request.query["q"].strip('"').lower()
        page, headers = self._select(request, [s for s in self.statuses if term in s["content"].lower()])
        return web.json_response({"accounts": [], "statuses": page, "hashtags": []}, headers=headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v1/timelines/tag/{hashtag}", self.tag)
        app.router.add_get("/api/v2/search", self.search)
        return app


def _source(url: str, **options: Any) -> MastodonCollector:
    source = make_source(MastodonCollector, base_url=url, name="mastodon", secrets={"access_token": "tok"},
                         limit=2, **options)
    assert isinstance(source, MastodonCollector)
    return source


def test_hashtag_and_search_channels_are_normalised() -> None:
    api = FakeMastodon()
    api.add(1, "<p>Great day at <a href='x'>#IMSUK</a> &amp; friends</p>", tags=["imsuk"])
    api.add(2, "<p>boosted</p>", tags=["imsuk"], reblog=True)
    api.add(3, "<p>Incident Management Solutions is hiring</p>", tags=[], acct="bob@other.example")
    with LocalServer(api.app()) as server:
        api.host = server.url
        mentions, health = run_once(_source(server.url, hashtags=["IMSUK"], search=['"Incident Management Solutions"']))
    assert [m["text"] for m in mentions] == ["Great day at #IMSUK & friends", "Incident Management Solutions is hiring"]
    first = mentions[0]
    assert first["source"] == "mastodon" and first["source_id"] == f"https://remote.example/users/alice/statuses/{ID0 + 1000}"
    assert first["author"]["handle"] == "alice@127.0.0.1"  # a local account gets the instance's host
    assert mentions[1]["author"]["handle"] == "bob@other.example"
    assert first["reach"] == {"followers": 42, "likes": 5, "shares": 2}
    assert first["media_urls"] == ["https://files.example/1.png"] and first["lang"] == "en"
    assert health["status"] == "ok"


def test_min_id_moves_forward_exactly_across_restarts(tmp_path: Path) -> None:
    api = FakeMastodon()
    for n in range(1, 6):
        api.add(n, f"<p>IMS {n}</p>", tags=["imsuk"])
    with LocalServer(api.app()) as server:
        api.host = server.url
        first, _ = run_once(_source(server.url, hashtags=["imsuk"]), store=sqlite_store(tmp_path),
                            policy=replace(FAST, max_pages_per_poll=1))
        rest, _ = run_once(_source(server.url, hashtags=["imsuk"]), store=sqlite_store(tmp_path))
        assert [m["text"] for m in first] == ["IMS 1", "IMS 2"]
        assert [m["text"] for m in rest] == ["IMS 3", "IMS 4", "IMS 5"]
        api.add(6, "<p>IMS 6</p>", tags=["imsuk"])
        newer, _ = run_once(_source(server.url, hashtags=["imsuk"]), store=sqlite_store(tmp_path))
        assert [m["text"] for m in newer] == ["IMS 6"]
        calls = server.paths("/api/v1/timelines/tag/imsuk")
        assert calls[-1].query["min_id"] == str(ID0 + 5000)
        assert int(calls[0].query["min_id"]) < ID0  # first poll starts backfill_hours ago, by Snowflake id
    assert len(set(ids(first + rest + newer))) == 6


def test_429_waits_until_x_ratelimit_reset() -> None:
    from datetime import UTC, datetime, timedelta

    api = FakeMastodon()
    api.add(1, "<p>IMS</p>", tags=["imsuk"])
    with LocalServer(api.app()) as server:
        api.host = server.url
        server.throttle(1, body={"error": "Too many requests"}, headers=lambda: {
            "X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": (datetime.now(UTC) + timedelta(seconds=1.2)).isoformat().replace("+00:00", "Z")})
        mentions, health = run_once(_source(server.url, hashtags=["imsuk"]))
        assert server.gap_after_429() >= 1.0
    assert [m["text"] for m in mentions] == ["IMS"] and health["rate_limited"] == 1

"""Reddit search against a local server returning Listings (sort=new, after=fullname pagination)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.reddit import RedditCollector
from tests.collectors.helpers import FAST, LocalServer, ids, make_source, run_once, sqlite_store

T0 = 1_795_000_000.0


class FakeReddit:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.throttle = 0

    def add(self, n: int, title: str, *, selftext: str = "", subreddit: str = "unitedkingdom") -> None:
        self.posts.append({
            "id": f"abc{n}", "name": f"t3_abc{n}", "title": title, "selftext": selftext, "author": f"user{n}",
            "created_utc": T0 + n * 10, "permalink": f"/r/{subreddit}/comments/abc{n}/post_{n}/",
            "url": f"https://i.redd.it/img{n}.jpg" if n % 2 else f"https://www.reddit.com/r/{subreddit}/comments/abc{n}/",
            "subreddit": subreddit, "score": n * 3, "num_comments": 1, "over_18": False, "is_self": not n % 2,
            "preview": {"images": [{"source": {"url": f"https://preview.redd.it/p{n}.jpg?width=640", "width": 640,
                                              "height": 480}, "resolutions": [], "id": f"i{n}"}]} if n % 2 else None,
        })

    async def search(self, request: web.Request) -> web.Response:
        if self.throttle:
            self.throttle -= 1
            return web.json_response({"message": "Too Many Requests", "error": 429}, status=429,
                                     headers={"Retry-After": "1", "x-ratelimit-remaining": "0",
                                              "x-ratelimit-reset": "1", "x-ratelimit-used": "100"})
        q = request.query
        assert q["sort"] == "new" and q["raw_json"] == "1"
        posts = sorted(self.posts, key=lambda p: -p["created_utc"])
        if "subreddit" in request.match_info:
            assert q["restrict_sr"] == "on"
            posts = [p for p in posts if p["subreddit"] == request.match_info["subreddit"]]
        start = 0
        if "after" in q:
            start = next(i for i, p in enumerate(posts) if p["name"] == q["after"]) + 1
        limit = int(q.get("limit", 25))
        page = posts[start:start + limit]
        after = page[-1]["name"] if page and start + limit < len(posts) else None
        return web.json_response(
            {"kind": "Listing", "data": {"after": after, "dist": len(page), "modhash": "", "geo_filter": "",
                                         "before": None, "children": [{"kind": "t3", "data": p} for p in page]}},
            headers={"x-ratelimit-remaining": "99.0", "x-ratelimit-used": "1", "x-ratelimit-reset": "300"})

    def add_comment(self, n: int, body: str, *, subreddit: str = "unitedkingdom") -> None:
        self.comments.append({
            "id": f"c{n}", "name": f"t1_c{n}", "body": body, "author": f"commenter{n}", "created_utc": T0 + n * 10,
            "permalink": f"/r/{subreddit}/comments/abc1/post_1/c{n}/", "link_id": "t3_abc1", "parent_id": "t3_abc1",
            "link_title": "Big outage today", "subreddit": subreddit, "score": n, "replies": ""})

    async def comments_listing(self, request: web.Request) -> web.Response:
        comments = sorted((c for c in self.comments if c["subreddit"] == request.match_info["subreddit"]),
                          key=lambda c: -c["created_utc"])
        start = 0
        if "after" in request.query:
            start = next(i for i, c in enumerate(comments) if c["name"] == request.query["after"]) + 1
        limit = int(request.query.get("limit", 25))
        page = comments[start:start + limit]
        after = page[-1]["name"] if page and start + limit < len(comments) else None
        return web.json_response({"kind": "Listing", "data": {"after": after, "dist": len(page), "before": None,
                                                               "children": [{"kind": "t1", "data": c} for c in page]}})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/r/{subreddit}/comments.json", self.comments_listing)
        app.router.add_get("/search.json", self.search)
        app.router.add_get("/r/{subreddit}/search.json", self.search)
        return app


def _source(url: str, **options: Any) -> RedditCollector:
    source = make_source(RedditCollector, base_url=url, name="reddit", query="IMS", limit=2, **options)
    assert isinstance(source, RedditCollector)
    return source


def test_listing_is_normalised_and_paged() -> None:
    api = FakeReddit()
    api.add(1, "IMS outage?", selftext="Anyone else?")
    api.add(2, "Working at IMS")
    api.add(3, "IMS again", subreddit="other")
    api.add(4, "IMS four")
    with LocalServer(api.app()) as server:
        mentions, health = run_once(_source(server.url, subreddit="unitedkingdom"))
        assert [r.query.get("after") for r in server.paths("/r/unitedkingdom/search.json")] == [None, "t3_abc2"]
    assert ids(mentions) == ["t3_abc4", "t3_abc2", "t3_abc1"] and health["pages"] == 2
    first = mentions[2]
    assert first["text"] == "IMS outage?\n\nAnyone else?" and first["author"]["handle"] == "user1"
    assert first["url"] == "https://www.reddit.com/r/unitedkingdom/comments/abc1/post_1/"
    assert first["media_urls"] == ["https://i.redd.it/img1.jpg", "https://preview.redd.it/p1.jpg?width=640"]
    assert first["reach"]["likes"] == 3 and first["created_at"] == "2026-11-18T11:06:50.000000Z"


def test_restart_and_429(tmp_path: Path) -> None:
    api = FakeReddit()
    for n in range(1, 6):
        api.add(n, f"IMS {n}")
    api.throttle = 1
    with LocalServer(api.app()) as server:
        first, health = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        assert health["rate_limited"] == 1 and len(first) == 2
        calls = server.paths("/search.json")
        assert calls[1].at - calls[0].at >= 1.0
        rest, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
        assert sorted(ids(first) + ids(rest)) == [f"t3_abc{n}" for n in range(1, 6)]
        api.add(6, "IMS six")
        assert ids(run_once(_source(server.url), store=sqlite_store(tmp_path))[0]) == ["t3_abc6"]


def test_subreddit_comments_are_read_and_matched(tmp_path: Path) -> None:
    from pipeline.collectors.matching import MatchRule, MentionMatcher

    api = FakeReddit()
    for n in range(1, 5):
        api.add_comment(n, "IMS support was down again" if n % 2 else "my cat is called Ims-ish")
    api.add_comment(5, "IMS elsewhere", subreddit="other")
    with LocalServer(api.app()) as server:
        source = make_source(RedditCollector, base_url=server.url, name="reddit", comment_subreddits=["unitedkingdom"],
                             limit=2)
        mentions, health = run_once(source, store=sqlite_store(tmp_path), matcher=MentionMatcher([MatchRule.parse("ims", "{IMS}")]))
        api.add_comment(6, "IMS is back")
        newer, _ = run_once(source, store=sqlite_store(tmp_path), matcher=MentionMatcher([MatchRule.parse("ims", "{IMS}")]))
    assert ids(mentions) == ["t1_c3", "t1_c1"] and health["unmatched"] == 2 and health["pages"] == 2
    comment = mentions[1]
    assert comment["text"] == "IMS support was down again" and comment["author"]["handle"] == "commenter1"
    assert comment["url"] == "https://www.reddit.com/r/unitedkingdom/comments/abc1/post_1/c1/"
    assert ids(newer) == ["t1_c6"]

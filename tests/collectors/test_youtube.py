"""YouTube Data API v3 commentThreads against a local server (pageToken paging, quotaExceeded as 403)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aiohttp import web

from pipeline.collectors.youtube import YouTubeCommentsCollector
from tests.collectors.helpers import FAST, LocalServer, make_source, run_once, sqlite_store


class FakeYouTube:
    def __init__(self) -> None:
        self.threads: list[dict[str, Any]] = []
        self.quota_errors = 0

    def add(self, n: int, text: str, *, video: str = "vid00000001") -> None:
        comment_id = f"Ugz{n:05d}"
        self.threads.append({"kind": "youtube#commentThread", "etag": f"e{n}", "id": comment_id, "snippet": {
            "channelId": "UCims", "videoId": video, "canReply": True, "totalReplyCount": 0, "isPublic": True,
            "topLevelComment": {"kind": "youtube#comment", "etag": f"c{n}", "id": comment_id, "snippet": {
                "channelId": "UCims", "videoId": video, "textDisplay": f"{text} &amp; more", "textOriginal": text,
                "authorDisplayName": f"@viewer{n}", "authorProfileImageUrl": "https://yt3.ggpht.com/a.jpg",
                "authorChannelUrl": f"http://www.youtube.com/@viewer{n}", "authorChannelId": {"value": f"UC{n}"},
                "canRate": True, "viewerRating": "none", "likeCount": n,
                "publishedAt": f"2026-11-20T10:{n:02d}:00Z", "updatedAt": f"2026-11-20T10:{n:02d}:00Z"}}}})

    async def threads_endpoint(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("key") != "yt-key":
            return web.json_response({"error": {"code": 400, "message": "API key not valid.", "errors": [
                {"message": "API key not valid.", "domain": "global", "reason": "badRequest"}]}}, status=400)
        if self.quota_errors:
            self.quota_errors -= 1
            return web.json_response({"error": {"code": 403, "message": "quota", "errors": [
                {"message": "quota", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}, status=403)
        assert q["part"] == "snippet" and q["order"] == "time"
        threads = sorted((t for t in self.threads if q.get("allThreadsRelatedToChannelId") == "UCims"
                          or t["snippet"]["videoId"] == q.get("videoId")),
                         key=lambda t: t["snippet"]["topLevelComment"]["snippet"]["publishedAt"], reverse=True)
        start = int(q.get("pageToken", "0"))
        size = int(q["maxResults"])
        body: dict[str, Any] = {"kind": "youtube#commentThreadListResponse", "etag": "x",
                                "pageInfo": {"totalResults": len(threads[start:start + size]), "resultsPerPage": size},
                                "items": threads[start:start + size]}
        if start + size < len(threads):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/youtube/v3/commentThreads", self.threads_endpoint)
        return app


def _source(url: str) -> YouTubeCommentsCollector:
    source = make_source(YouTubeCommentsCollector, base_url=url, name="yt", secrets={"api_key": "yt-key"},
                         channel_ids=["UCims"], max_results=2)
    assert isinstance(source, YouTubeCommentsCollector)
    return source


def test_comment_threads_are_normalised_paged_and_restartable(tmp_path: Path) -> None:
    api = FakeYouTube()
    for n in range(1, 6):
        api.add(n, f"IMS comment {n}")
    api.quota_errors = 1
    with LocalServer(api.app()) as server:
        first, health = run_once(_source(server.url), store=sqlite_store(tmp_path), policy=replace(FAST, max_pages_per_poll=1))
        rest, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
        api.add(9, "IMS newest")
        newer, _ = run_once(_source(server.url), store=sqlite_store(tmp_path))
    assert health["rate_limited"] == 1 and health["status"] == "ok"
    assert [m["source_id"] for m in first] == ["Ugz00005", "Ugz00004"]
    assert [m["source_id"] for m in rest] == ["Ugz00003", "Ugz00002", "Ugz00001"]
    assert [m["source_id"] for m in newer] == ["Ugz00009"]
    comment = first[0]
    assert comment["text"] == "IMS comment 5" and comment["author"]["handle"] == "@viewer5"
    assert comment["url"] == "https://www.youtube.com/watch?v=vid00000001&lc=Ugz00005"
    assert comment["reach"]["likes"] == 5 and comment["created_at"] == "2026-11-20T10:05:00.000000Z"

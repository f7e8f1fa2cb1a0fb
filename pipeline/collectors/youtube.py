"""``YouTubeCommentsCollector``: comment threads from the YouTube Data API v3.

``GET {base_url}/youtube/v3/commentThreads?part=snippet&allThreadsRelatedToChannelId=<id>`` (or
``videoId=<id>``) ``&order=time&maxResults=100&textFormat=plainText&pageToken=...&key=<API key>`` answers
``{"kind": "youtube#commentThreadListResponse", "nextPageToken"?, "pageInfo": {...}, "items": [{"kind":
"youtube#commentThread", "id", "snippet": {"videoId", "topLevelComment": {"id", "snippet": {
"authorDisplayName", "authorChannelUrl", "authorChannelId": {"value"}, "textDisplay", "textOriginal",
"likeCount", "publishedAt", "updatedAt"}}, "totalReplyCount"}}]}``, newest first with ``order=time``.
Quota exhaustion is ``403`` with ``error.errors[].reason`` ``quotaExceeded``/``rateLimitExceeded``, treated
like 429 (backoff).

YAML::

    - {name: youtube, type: youtube, channel_ids: [UC...], video_ids: [dQw4w9WgXcQ], secrets: {api_key: YOUTUBE_API_KEY}}
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field

from pipeline.collectors.base import (
    Cursor,
    HttpRequest,
    HttpSource,
    Page,
    SourceOptions,
    build_mention,
    newest_first_step,
    to_iso,
)

RATE_LIMIT_REASONS = frozenset({"quotaExceeded", "rateLimitExceeded", "userRateLimitExceeded"})


class YouTubeOptions(SourceOptions):
    channel_ids: list[str] = Field(default_factory=list)
    video_ids: list[str] = Field(default_factory=list)
    search_terms: str | None = None
    max_results: int = Field(default=100, ge=1, le=100)


class YouTubeCommentsCollector(HttpSource):
    network = "youtube"
    default_base_url = "https://www.googleapis.com"
    Options = YouTubeOptions
    options: YouTubeOptions
    required_secrets = ("api_key",)

    def channels(self) -> list[str]:
        return [f"channel:{c}" for c in self.options.channel_ids] + [f"video:{v}" for v in self.options.video_ids]

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        kind, _, value = channel.partition(":")
        params: dict[str, Any] = {"part": "snippet", "order": "time", "maxResults": self.options.max_results,
                                  "textFormat": "plainText", "key": self.secret("api_key")}
        params["allThreadsRelatedToChannelId" if kind == "channel" else "videoId"] = value
        if self.options.search_terms:
            params["searchTerms"] = self.options.search_terms
        if cursor.get("page"):
            params["pageToken"] = cursor["page"]
        return HttpRequest("GET", "/youtube/v3/commentThreads", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        items = body.get("items") or []
        keys = [to_iso(_top(i).get("snippet", {}).get("publishedAt")) for i in items]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=body.get("nextPageToken"))
        return Page(mentions=[self._mention(i) for i, k in zip(items, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.status_code != 403:
            return False
        try:
            errors = response.json().get("error", {}).get("errors", [])
        except ValueError:
            return False
        return any(e.get("reason") in RATE_LIMIT_REASONS for e in errors)

    def _mention(self, thread: dict[str, Any]) -> dict[str, Any]:
        comment = _top(thread)
        snippet = comment.get("snippet") or {}
        video_id = snippet.get("videoId") or (thread.get("snippet") or {}).get("videoId")
        handle = snippet.get("authorDisplayName") or (snippet.get("authorChannelId") or {}).get("value") or ""
        return build_mention(
            source=self.network, source_id=comment.get("id") or thread["id"],
            text=snippet.get("textOriginal") or snippet.get("textDisplay") or "",
            created_at=snippet.get("publishedAt"), author_handle=handle,
            author_name=snippet.get("authorDisplayName"),
            url=f"https://www.youtube.com/watch?v={video_id}&lc={comment.get('id') or thread['id']}",
            likes=snippet.get("likeCount"),
        )


def _top(thread: dict[str, Any]) -> dict[str, Any]:
    return (thread.get("snippet") or {}).get("topLevelComment") or {}

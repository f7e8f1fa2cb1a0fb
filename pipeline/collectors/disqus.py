"""``DisqusCommentsCollector``: comment boxes on news sites that use Disqus.

``GET {base_url}/api/3.0/forums/listPosts.json?forum=<shortname>&api_key=<public key>&limit=100&order=desc
&related=thread&cursor=<cursor>`` answers ``{"code": 0, "cursor": {"hasNext", "next", "hasPrev", "prev",
"more"}, "response": [{"id", "message" (HTML), "raw_message", "createdAt" (UTC, no offset), "author":
{"username", "name", "isAnonymous", "profileUrl"}, "thread": {"id", "link", "title"}, "forum", "likes",
"dislikes", "isDeleted", "isSpam"}]}``, newest first. Every comment of the forum is read; the matching rules
pick the ones about IMS. Deleted and spam-flagged comments are skipped.

YAML::

    - {name: local-news-comments, type: disqus, forums: [localnewspaper], secrets: {api_key: DISQUS_API_KEY}}
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
    html_to_text,
    newest_first_step,
    to_iso,
)


class DisqusOptions(SourceOptions):
    forums: list[str] = Field(min_length=1)
    limit: int = Field(default=100, ge=1, le=100)


class DisqusCommentsCollector(HttpSource):
    network = "news_comment"
    default_base_url = "https://disqus.com"
    Options = DisqusOptions
    options: DisqusOptions
    required_secrets = ("api_key",)

    def channels(self) -> list[str]:
        return list(self.options.forums)

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params: dict[str, Any] = {"forum": channel, "api_key": self.secret("api_key"), "limit": self.options.limit,
                                  "order": "desc", "related": "thread"}
        if cursor.get("page"):
            params["cursor"] = cursor["page"]
        return HttpRequest("GET", "/api/3.0/forums/listPosts.json", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        posts = body.get("response") or []
        paging = body.get("cursor") or {}
        keys = [to_iso(_utc(p.get("createdAt"))) for p in posts]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys,
                                                    next_page=paging.get("next") if paging.get("hasNext") else None)
        mentions = [self._mention(p) for p, k in zip(posts, keep, strict=True)
                    if k and not p.get("isDeleted") and not p.get("isSpam")]
        return Page(mentions=mentions, cursor=next_cursor, more=more)

    def _mention(self, post: dict[str, Any]) -> dict[str, Any]:
        author = post.get("author") or {}
        thread: dict[str, Any] = post["thread"] if isinstance(post.get("thread"), dict) else {}
        link = thread.get("link")
        return build_mention(
            source=self.network, source_id=f"disqus:{post['id']}",
            text=post.get("raw_message") or html_to_text(post.get("message")), created_at=_utc(post.get("createdAt")),
            author_handle=author.get("username") or author.get("name") or "anonymous",
            author_name=author.get("name"), url=f"{link}#comment-{post['id']}" if link else None,
            likes=post.get("likes"),
        )


def _utc(stamp: str | None) -> str | None:
    """Disqus timestamps are UTC without an offset."""
    if not stamp:
        return None
    return stamp if stamp.endswith("Z") or "+" in stamp[10:] else stamp + "Z"

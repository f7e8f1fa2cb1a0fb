"""``RedditCollector``: Reddit posts from the search listing.

``GET {base_url}/search.json?q=...&sort=new&limit=100&after=t3_...&raw_json=1`` (or
``/r/<subreddit>/search.json?...&restrict_sr=on``) answers a Listing: ``{"kind": "Listing", "data": {"after",
"before", "dist", "children": [{"kind": "t3", "data": {id, name, title, selftext, author, created_utc,
permalink, url, subreddit, score, num_comments, preview, ...}}]}}``, newest first; ``after`` is the fullname
of the last item, for the next (older) page. With an OAuth token, use ``base_url: https://oauth.reddit.com``
and ``secrets: {access_token: REDDIT_ACCESS_TOKEN}``. Quota: ``X-Ratelimit-Remaining`` and
``X-Ratelimit-Reset`` (seconds until the window resets).

Search returns posts only; for comments, ``comment_subreddits`` reads each subreddit's newest comments
(``GET /r/<sub>/comments.json?limit=100&after=t1_...``, a Listing of ``t1`` things with ``body``, ``author``,
``created_utc``, ``permalink``, ``link_title``) and the matching rules pick the ones about IMS.

YAML::

    - {name: reddit, type: reddit, query: '"Incident Management Solutions" OR "IMS UK"',
       comment_subreddits: [unitedkingdom, sysadmin]}
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import Field, model_validator

from pipeline.collectors.base import (
    Cursor,
    HttpRequest,
    HttpSource,
    Page,
    SourceOptions,
    build_mention,
    newest_first_step,
)

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp")


class RedditOptions(SourceOptions):
    query: str | None = None
    subreddit: str | None = None
    comment_subreddits: list[str] = Field(default_factory=list,
                                          description="subreddits whose new comments are read (search has no comments)")
    limit: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _something_to_read(self) -> RedditOptions:
        if not self.query and not self.comment_subreddits:
            raise ValueError("set query, comment_subreddits, or both")
        return self


class RedditCollector(HttpSource):
    network = "reddit"
    default_base_url = "https://www.reddit.com"
    Options = RedditOptions
    options: RedditOptions
    optional_secrets = ("access_token",)

    def auth_headers(self) -> dict[str, str]:
        token = self.secret("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def channels(self) -> list[str]:
        return (["default"] if self.options.query else []) + [f"comments:{s}" for s in self.options.comment_subreddits]

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": self.backfill_start().timestamp(), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        if channel.startswith("comments:"):
            listing: dict[str, Any] = {"limit": self.options.limit, "raw_json": 1}
            if cursor.get("page"):
                listing["after"] = cursor["page"]
            return HttpRequest("GET", f"/r/{channel.partition(':')[2]}/comments.json", params=listing)
        params: dict[str, Any] = {"q": self.options.query, "sort": "new", "limit": self.options.limit,
                                  "raw_json": 1, "type": "link"}
        path = "/search.json"
        if self.options.subreddit:
            path = f"/r/{self.options.subreddit}/search.json"
            params["restrict_sr"] = "on"
        if cursor.get("page"):
            params["after"] = cursor["page"]
        return HttpRequest("GET", path, params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        data = response.json().get("data") or {}
        things = [(c["kind"], c["data"]) for c in data.get("children") or [] if c.get("kind") in ("t1", "t3")]
        keys = [float(t.get("created_utc") or 0) for _, t in things]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=data.get("after"))
        mentions = [self._comment(t) if kind == "t1" else self._mention(t)
                    for (kind, t), k in zip(things, keep, strict=True) if k]
        return Page(mentions=mentions, cursor=next_cursor, more=more)

    def _comment(self, comment: dict[str, Any]) -> dict[str, Any]:
        return build_mention(
            source=self.network, source_id=str(comment.get("name") or f"t1_{comment['id']}"),
            text=comment.get("body") or "", created_at=comment.get("created_utc"),
            author_handle=comment.get("author") or "[deleted]",
            url=f"https://www.reddit.com{comment['permalink']}" if comment.get("permalink") else None,
            likes=comment.get("score"),
        )

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        try:
            if reset is not None and (response.status_code == 429 or (remaining is not None
                                                                       and float(remaining) < 1)):
                return float(reset)
        except ValueError:
            return None
        return None

    def _mention(self, post: dict[str, Any]) -> dict[str, Any]:
        media: list[str] = []
        link = post.get("url_overridden_by_dest") or post.get("url") or ""
        if link.lower().endswith(_IMAGE_SUFFIXES):
            media.append(link)
        for image in (post.get("preview") or {}).get("images") or []:
            source_url = (image.get("source") or {}).get("url")
            if source_url:
                media.append(source_url)
        title, body = post.get("title") or "", post.get("selftext") or ""
        return build_mention(
            source=self.network, source_id=str(post.get("name") or f"t3_{post['id']}"),
            text=f"{title}\n\n{body}".strip(), created_at=post.get("created_utc"),
            author_handle=post.get("author") or "[deleted]",
            url=f"https://www.reddit.com{post['permalink']}" if post.get("permalink") else link or None,
            likes=post.get("score"), media_urls=media,
        )

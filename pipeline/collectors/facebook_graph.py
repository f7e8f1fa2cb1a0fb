"""Meta Graph API: ``FacebookPageCollector`` (posts a Page is tagged in) and ``InstagramHashtagCollector``
(recent media for hashtags, and media the business account is tagged in).

* ``GET {base_url}/{version}/{page-id}/tagged?fields=id,message,created_time,permalink_url,from,full_picture
  &limit=100&after=<cursor>&access_token=...`` -> ``{"data": [...], "paging": {"cursors": {"before",
  "after"}, "next"?}}``, newest first.
* ``GET {base_url}/{version}/ig_hashtag_search?user_id=<ig-user>&q=<tag>`` -> ``{"data": [{"id"}]}``, then
  ``GET {base_url}/{version}/{hashtag-id}/recent_media?user_id=<ig-user>&fields=id,caption,media_type,
  media_url,permalink,timestamp,like_count,comments_count&limit=50&after=...`` (the last 24 hours; hashtag
  media carries no username);
* ``GET {base_url}/{version}/{ig-user}/tags?fields=id,caption,media_type,media_url,permalink,timestamp,
  username,like_count,comments_count``.

Only ``paging.cursors.after`` is kept in the checkpoint (the ``next`` URL embeds the access token). Rate
limits come back as HTTP 400/403 with ``error.code`` 4, 17, 32 or 613 (and 80001+ for business use cases);
they are treated like 429, and ``X-Business-Use-Case-Usage``'s ``estimated_time_to_regain_access``
(minutes) is honoured.
"""

from __future__ import annotations

import json
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

RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80001, 80002, 80004, 80005, 80006, 80008, 80014})
IG_FIELDS = "id,caption,media_type,media_url,permalink,timestamp,like_count,comments_count"


class GraphApiSource(HttpSource):
    """What the Facebook and Instagram collectors share: auth, paging, rate-limit answers."""

    default_base_url = "https://graph.facebook.com"
    required_secrets = ("access_token",)

    def _params(self, cursor: Cursor, **params: Any) -> dict[str, Any]:
        params["access_token"] = self.secret("access_token")
        if cursor.get("page"):
            params["after"] = cursor["page"]
        return params

    def is_rate_limited(self, response: httpx.Response) -> bool:
        if response.status_code == 429:
            return True
        if response.status_code not in (400, 403):
            return False
        try:
            return int(response.json().get("error", {}).get("code", 0)) in RATE_LIMIT_CODES
        except (ValueError, TypeError, AttributeError):
            return False

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        header = response.headers.get("x-business-use-case-usage")
        if not header:
            return None
        try:
            usage = json.loads(header)
        except ValueError:
            return None
        minutes = [int(entry.get("estimated_time_to_regain_access") or 0)
                   for entries in usage.values() for entry in entries]
        return max(minutes) * 60.0 if minutes and max(minutes) > 0 else None

    @staticmethod
    def _next_after(body: dict[str, Any]) -> str | None:
        paging = body.get("paging") or {}
        return (paging.get("cursors") or {}).get("after") if paging.get("next") else None


class FacebookPageOptions(SourceOptions):
    page_id: str
    api_version: str = "v21.0"
    limit: int = Field(default=100, ge=1, le=100)


class FacebookPageCollector(GraphApiSource):
    network = "facebook"
    Options = FacebookPageOptions
    options: FacebookPageOptions

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params = self._params(cursor, fields="id,message,created_time,permalink_url,from,full_picture",
                              limit=self.options.limit)
        return HttpRequest("GET", f"/{self.options.api_version}/{self.options.page_id}/tagged", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        posts = body.get("data") or []
        keys = [to_iso(p.get("created_time")) for p in posts]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=self._next_after(body))
        return Page(mentions=[self._mention(p) for p, k in zip(posts, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def _mention(self, post: dict[str, Any]) -> dict[str, Any]:
        author = post.get("from") or {}
        return build_mention(
            source=self.network, source_id=str(post["id"]), text=post.get("message") or "",
            created_at=post.get("created_time"), author_handle=str(author.get("id") or author.get("name") or ""),
            author_name=author.get("name"), url=post.get("permalink_url"),
            media_urls=[post["full_picture"]] if post.get("full_picture") else [],
        )


class InstagramOptions(SourceOptions):
    ig_user_id: str
    hashtags: list[str] = Field(default_factory=list)
    include_tags: bool = False
    api_version: str = "v21.0"
    limit: int = Field(default=50, ge=1, le=50)


class InstagramHashtagCollector(GraphApiSource):
    network = "instagram"
    Options = InstagramOptions
    options: InstagramOptions

    def channels(self) -> list[str]:
        return [f"hashtag:{h.lstrip('#')}" for h in self.options.hashtags] + (["tags"] if self.options.include_tags else [])

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        version, user = self.options.api_version, self.options.ig_user_id
        if channel == "tags":
            return HttpRequest("GET", f"/{version}/{user}/tags",
                               params=self._params(cursor, fields=IG_FIELDS + ",username", limit=self.options.limit))
        tag = channel.partition(":")[2]
        if not cursor.get("hashtag_id"):
            return HttpRequest("GET", f"/{version}/ig_hashtag_search",
                               params={"user_id": user, "q": tag, "access_token": self.secret("access_token")})
        return HttpRequest("GET", f"/{version}/{cursor['hashtag_id']}/recent_media",
                           params=self._params(cursor, user_id=user, fields=IG_FIELDS, limit=self.options.limit))

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        if channel != "tags" and not cursor.get("hashtag_id"):
            found = body.get("data") or []
            if not found:
                raise ValueError(f"{channel}: Instagram knows no such hashtag")
            return Page(mentions=[], cursor={**cursor, "hashtag_id": found[0]["id"]}, more=True)
        media = body.get("data") or []
        keys = [to_iso(m.get("timestamp")) for m in media]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=self._next_after(body))
        if cursor.get("hashtag_id"):
            next_cursor["hashtag_id"] = cursor["hashtag_id"]
        return Page(mentions=[self._mention(m) for m, k in zip(media, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def _mention(self, item: dict[str, Any]) -> dict[str, Any]:
        return build_mention(
            source=self.network, source_id=str(item["id"]), text=item.get("caption") or "",
            created_at=item.get("timestamp"), author_handle=item.get("username") or "unknown",
            url=item.get("permalink"), likes=item.get("like_count"),
            media_urls=[item["media_url"]] if item.get("media_url") else [],
        )

"""``XRecentSearchCollector``: posts from the X API v2 recent-search endpoint.

``GET {base_url}/2/tweets/search/recent?query=...&max_results=100&since_id=...&next_token=...`` with
``Authorization: Bearer <token>``, expansions ``author_id,attachments.media_keys``. The answer is
``{"data": [{id, text, created_at, author_id, lang, public_metrics{like_count, retweet_count, quote_count,
...}, attachments{media_keys}}], "includes": {"users": [{id, username, name, public_metrics{followers_count}}],
"media": [{media_key, type, url, preview_image_url}]}, "meta": {newest_id, oldest_id, result_count,
next_token}}``, newest first. Polling: ``since_id`` = newest id of the last finished run; pages within a run
follow ``next_token`` (which does not expire). Quota: ``x-rate-limit-remaining`` / ``x-rate-limit-reset``
(epoch seconds); 429 when spent.

YAML::

    - name: x-recent
      type: x
      secrets: {bearer_token: X_BEARER_TOKEN}
      query: '("Incident Management Solutions" OR @IMS_UK OR #IMSUK) -is:retweet'
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
    wait_until_reset,
)

TWEET_FIELDS = "created_at,lang,public_metrics,author_id,attachments,entities,conversation_id"
USER_FIELDS = "username,name,public_metrics"
MEDIA_FIELDS = "url,preview_image_url,type"


class XOptions(SourceOptions):
    query: str
    max_results: int = Field(default=100, ge=10, le=100)


class XRecentSearchCollector(HttpSource):
    network = "twitter"
    default_base_url = "https://api.x.com"
    Options = XOptions
    options: XOptions
    required_secrets = ("bearer_token",)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret('bearer_token')}"}

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": None, "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params: dict[str, Any] = {
            "query": self.options.query, "max_results": self.options.max_results,
            "tweet.fields": TWEET_FIELDS, "expansions": "author_id,attachments.media_keys",
            "user.fields": USER_FIELDS, "media.fields": MEDIA_FIELDS,
        }
        if cursor.get("watermark") is not None:
            params["since_id"] = str(cursor["watermark"])
        else:
            params["start_time"] = self.backfill_start().strftime("%Y-%m-%dT%H:%M:%SZ")
        if cursor.get("page"):
            params["next_token"] = cursor["page"]
        return HttpRequest("GET", "/2/tweets/search/recent", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        tweets = body.get("data") or []
        includes = body.get("includes") or {}
        users = {u["id"]: u for u in includes.get("users") or []}
        media = {m["media_key"]: m for m in includes.get("media") or []}
        keys = [int(t["id"]) for t in tweets]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys,
                                                    next_page=(body.get("meta") or {}).get("next_token"))
        mentions = [self._mention(t, users, media) for t, k in zip(tweets, keep, strict=True) if k]
        return Page(mentions=mentions, cursor=next_cursor, more=more)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        return wait_until_reset(response, remaining_header="x-rate-limit-remaining", reset_header="x-rate-limit-reset")

    def _mention(self, tweet: dict[str, Any], users: dict[str, Any], media: dict[str, Any]) -> dict[str, Any]:
        user = users.get(tweet.get("author_id", ""), {})
        username = user.get("username") or str(tweet.get("author_id") or "")
        metrics = tweet.get("public_metrics") or {}
        keys = (tweet.get("attachments") or {}).get("media_keys") or []
        media_urls = [media[k].get("url") or media[k].get("preview_image_url") for k in keys if k in media]
        return build_mention(
            source=self.network, source_id=str(tweet["id"]), text=tweet.get("text", ""),
            created_at=tweet.get("created_at"), author_handle=username, author_name=user.get("name"),
            url=f"https://x.com/{username}/status/{tweet['id']}", lang=tweet.get("lang"),
            followers=(user.get("public_metrics") or {}).get("followers_count"),
            likes=metrics.get("like_count"),
            shares=(metrics.get("retweet_count") or 0) + (metrics.get("quote_count") or 0) if metrics else None,
            media_urls=[u for u in media_urls if u],
        )

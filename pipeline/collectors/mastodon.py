"""``MastodonCollector``: statuses from a Mastodon instance's hashtag timelines and full-text search.

* ``GET {base_url}/api/v1/timelines/tag/<hashtag>?limit=40&min_id=<id>`` -> a JSON array of Status;
* ``GET {base_url}/api/v2/search?q=...&type=statuses&resolve=false&limit=40&min_id=<id>`` ->
  ``{"accounts": [], "statuses": [...], "hashtags": []}`` (full-text search needs an access token on most
  instances: ``secrets: {access_token: MASTODON_TOKEN}``).

``min_id`` returns the statuses immediately newer than that id, so the cursor moves forward exactly:
each page's newest id becomes the next ``min_id``; a page shorter than ``limit`` ends the poll. Status ids are
Snowflake-like (milliseconds << 16), so the first poll starts at ``backfill_hours`` ago by id. A Status has
``id``, ``uri``, ``url``, ``created_at``, ``content`` (HTML), ``spoiler_text``, ``language``,
``account{acct, display_name, followers_count}``, ``favourites_count``, ``reblogs_count``,
``media_attachments[{type, url}]``. Quota headers: ``X-RateLimit-Remaining``/``X-RateLimit-Reset`` (ISO time).

YAML::

    - {name: mastodon-social, type: mastodon, base_url: https://mastodon.social, hashtags: [IMSUK],
       search: ['"Incident Management Solutions"']}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from pydantic import Field

from pipeline.collectors.base import Cursor, HttpRequest, HttpSource, Page, SourceOptions, build_mention, html_to_text


class MastodonOptions(SourceOptions):
    hashtags: list[str] = Field(default_factory=list)
    search: list[str] = Field(default_factory=list)
    limit: int = Field(default=40, ge=1, le=40)


class MastodonCollector(HttpSource):
    network = "mastodon"
    default_base_url = "https://mastodon.social"
    Options = MastodonOptions
    options: MastodonOptions
    optional_secrets = ("access_token",)

    def auth_headers(self) -> dict[str, str]:
        token = self.secret("access_token")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def channels(self) -> list[str]:
        return [f"tag:{t.lstrip('#')}" for t in self.options.hashtags] + [f"search:{q}" for q in self.options.search]

    def initial_cursor(self, channel: str) -> Cursor:
        return {"min_id": str(int(self.backfill_start().timestamp() * 1000) << 16)}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        kind, _, value = channel.partition(":")
        params: dict[str, Any] = {"limit": self.options.limit}
        if cursor.get("min_id"):
            params["min_id"] = cursor["min_id"]
        if kind == "tag":
            return HttpRequest("GET", f"/api/v1/timelines/tag/{quote(value, safe='')}", params=params)
        params.update({"q": value, "type": "statuses", "resolve": "false"})
        return HttpRequest("GET", "/api/v2/search", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        statuses = body if isinstance(body, list) else body.get("statuses") or []
        if not statuses:
            return Page(mentions=[], cursor=cursor, more=False)
        newest = max(statuses, key=lambda s: int(s["id"]))["id"]
        mentions = [self._mention(s) for s in sorted(statuses, key=lambda s: int(s["id"])) if not s.get("reblog")]
        return Page(mentions=mentions, cursor={"min_id": str(newest)}, more=len(statuses) >= self.options.limit)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if reset is None or (response.status_code != 429 and (remaining or "").strip() != "0"):
            return None
        try:
            moment = datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            return None
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())

    def _mention(self, status: dict[str, Any]) -> dict[str, Any]:
        account = status.get("account") or {}
        acct = account.get("acct") or account.get("username") or ""
        if acct and "@" not in acct:
            acct = f"{acct}@{urlsplit(self.base_url).hostname}"
        spoiler = status.get("spoiler_text") or ""
        content = html_to_text(status.get("content"))
        return build_mention(
            source=self.network, source_id=status.get("uri") or f"{self.base_url}/statuses/{status['id']}",
            text=f"{spoiler}\n\n{content}".strip(), created_at=status.get("created_at"), author_handle=acct,
            author_name=account.get("display_name"), url=status.get("url") or status.get("uri"),
            lang=status.get("language"), followers=account.get("followers_count"),
            likes=status.get("favourites_count"), shares=status.get("reblogs_count"),
            media_urls=[m.get("url") for m in status.get("media_attachments") or [] if m.get("url")],
        )

"""``DiscourseSearchCollector``: posts from a Discourse forum's search.

``GET {base_url}/search.json?q=<terms> order:latest after:<YYYY-MM-DD>&page=N`` answers ``{"posts": [{id,
name, username, avatar_template, created_at, like_count, blurb, post_number, topic_id}], "topics": [{id,
title, slug, ...}], "users": [], "categories": [], "grouped_search_result": {"more_posts": bool|null,
"post_ids": [...], "term": ..., ...}}``; ``more_posts`` says a next page exists. A private forum needs
``Api-Key``/``Api-Username`` headers (``secrets: {api_key: DISCOURSE_API_KEY}``, ``api_username: system``).
``blurb`` is the search excerpt around the match (Discourse does not return the whole post in search).

YAML::

    - {name: community-forum, type: discourse, base_url: https://forum.example.org, query: IMS}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

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


class DiscourseOptions(SourceOptions):
    query: str
    api_username: str | None = None


class DiscourseSearchCollector(HttpSource):
    network = "forum"
    needs_base_url = True
    Options = DiscourseOptions
    options: DiscourseOptions
    optional_secrets = ("api_key",)

    def auth_headers(self) -> dict[str, str]:
        key = self.secret("api_key")
        if not key:
            return {}
        return {"Api-Key": key, "Api-Username": self.options.api_username or "system"}

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        terms = f"{self.options.query} order:latest"
        if cursor.get("watermark"):
            # after: is a whole day and exclusive of it, so ask from the day before; the watermark trims.
            from datetime import datetime, timedelta
            day = datetime.fromisoformat(cursor["watermark"].replace("Z", "+00:00")) - timedelta(days=1)
            terms += f" after:{day:%Y-%m-%d}"
        return HttpRequest("GET", "/search.json", params={"q": terms, "page": cursor.get("page") or 1})

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        posts = body.get("posts") or []
        topics = {t["id"]: t for t in body.get("topics") or []}
        more_posts = bool((body.get("grouped_search_result") or {}).get("more_posts"))
        page = int(cursor.get("page") or 1)
        keys = [to_iso(p.get("created_at")) for p in posts]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=page + 1 if more_posts else None)
        return Page(mentions=[self._mention(p, topics) for p, k in zip(posts, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def _mention(self, post: dict[str, Any], topics: dict[int, Any]) -> dict[str, Any]:
        topic = topics.get(int(post.get("topic_id") or 0), {})
        slug = topic.get("slug") or "-"
        title = topic.get("fancy_title") or topic.get("title") or ""
        url = f"{self.base_url}/t/{slug}/{post.get('topic_id')}/{post.get('post_number', 1)}"
        host = urlsplit(self.base_url).hostname or "discourse"
        return build_mention(
            source=self.network, source_id=f"{host}/posts/{post['id']}",
            text=f"{html_to_text(title)}\n\n{html_to_text(post.get('blurb'))}".strip(),
            created_at=post.get("created_at"), author_handle=post.get("username") or "",
            author_name=post.get("name"), url=url, likes=post.get("like_count"),
        )

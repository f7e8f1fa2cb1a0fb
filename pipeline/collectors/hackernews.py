"""``HackerNewsCollector``: Hacker News stories and comments through the Algolia HN Search API.

``GET {base_url}/api/v1/search_by_date?query=...&tags=(story,comment)&numericFilters=created_at_i>=T
&hitsPerPage=100&page=N`` answers ``{"hits": [...], "page", "nbPages", "hitsPerPage", "nbHits"}``, newest
first; each hit has ``objectID``, ``author``, ``created_at``, ``created_at_i``, ``title``/``story_text`` for
stories, ``comment_text``/``story_title`` for comments, ``points``, ``url``. No key needed.

YAML::

    - {name: hn, type: hackernews, query: "Incident Management Solutions"}
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
)


class HackerNewsOptions(SourceOptions):
    query: str
    tags: str = "(story,comment)"
    hits_per_page: int = Field(default=100, ge=1, le=1000)


class HackerNewsCollector(HttpSource):
    network = "hackernews"
    default_base_url = "https://hn.algolia.com"
    Options = HackerNewsOptions
    options: HackerNewsOptions

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": int(self.backfill_start().timestamp()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params: dict[str, Any] = {"query": self.options.query, "tags": self.options.tags,
                                  "hitsPerPage": self.options.hits_per_page, "page": cursor.get("page") or 0}
        if cursor.get("watermark") is not None:
            params["numericFilters"] = f"created_at_i>={int(cursor['watermark'])}"
        return HttpRequest("GET", "/api/v1/search_by_date", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        hits = body.get("hits") or []
        page, pages = int(body.get("page", 0)), int(body.get("nbPages", 0))
        keys = [int(h.get("created_at_i") or 0) for h in hits]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=page + 1 if page + 1 < pages else None)
        mentions = [self._mention(h) for h, k in zip(hits, keep, strict=True) if k]
        return Page(mentions=mentions, cursor=next_cursor, more=more)

    def _mention(self, hit: dict[str, Any]) -> dict[str, Any]:
        object_id = str(hit["objectID"])
        title = hit.get("title") or ""
        body = html_to_text(hit.get("comment_text") or hit.get("story_text") or "")
        if not title and hit.get("story_title"):
            title = f"Re: {hit['story_title']}"
        text = f"{title}\n\n{body}".strip() if body else title
        return build_mention(
            source=self.network, source_id=object_id, text=text,
            created_at=hit.get("created_at") or hit.get("created_at_i"), author_handle=hit.get("author") or "",
            url=f"https://news.ycombinator.com/item?id={object_id}", likes=hit.get("points"),
            media_urls=[],
        )

"""``TumblrTaggedCollector``: posts with a tag, from the Tumblr API v2.

``GET {base_url}/v2/tagged?tag=<tag>&api_key=<key>&limit=20&before=<unix seconds>&npf=true`` answers
``{"meta": {"status": 200, "msg": "OK"}, "response": [post, ...]}`` newest first; a post has ``id``
/``id_string``, ``blog_name``, ``blog{name, url}``, ``post_url``, ``timestamp``, ``date``, ``tags``,
``note_count``, ``summary`` and, in the Neue Post Format, ``content[]`` blocks (``{"type": "text", "text"}``,
``{"type": "image", "media": [{"url"}]}``). The next page is ``before=<oldest timestamp on this page>``.

YAML::

    - {name: tumblr, type: tumblr, tags: [ims uk], secrets: {api_key: TUMBLR_API_KEY}}
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


class TumblrOptions(SourceOptions):
    tags: list[str] = Field(min_length=1)
    limit: int = Field(default=20, ge=1, le=20)


class TumblrTaggedCollector(HttpSource):
    network = "tumblr"
    default_base_url = "https://api.tumblr.com"
    Options = TumblrOptions
    options: TumblrOptions
    required_secrets = ("api_key",)

    def channels(self) -> list[str]:
        return list(self.options.tags)

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": int(self.backfill_start().timestamp()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params: dict[str, Any] = {"tag": channel, "api_key": self.secret("api_key"), "limit": self.options.limit,
                                  "npf": "true"}
        if cursor.get("page"):
            params["before"] = cursor["page"]
        return HttpRequest("GET", "/v2/tagged", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        posts = response.json().get("response") or []
        keys = [int(p.get("timestamp") or 0) for p in posts]
        # ``before`` is exclusive: ask from one second after the oldest so posts sharing that second are not
        # lost (the runner's seen-ids drop the repeats); when the whole page is one second, step past it.
        oldest = min(keys) if keys else None
        next_before = None
        if oldest is not None and len(posts) >= self.options.limit:
            next_before = oldest + 1 if max(keys) > oldest else oldest
            if cursor.get("page") is not None and next_before >= int(cursor["page"]):
                next_before = oldest
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=next_before)
        return Page(mentions=[self._mention(p) for p, k in zip(posts, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def _mention(self, post: dict[str, Any]) -> dict[str, Any]:
        texts: list[str] = []
        media: list[str | None] = []
        for block in post.get("content") or []:
            if block.get("type") == "text" and block.get("text"):
                texts.append(block["text"])
            elif block.get("type") in {"image", "video"}:
                media.extend(m.get("url") for m in block.get("media") or [] if isinstance(m, dict) and m.get("url"))
        if not texts:  # legacy format
            texts = [html_to_text(post.get(k)) for k in ("title", "body", "caption") if post.get(k)]
            media += [(p.get("original_size") or {}).get("url") for p in post.get("photos") or []]
        blog = post.get("blog") or {}
        return build_mention(
            source=self.network, source_id=str(post.get("id_string") or post["id"]),
            text="\n\n".join(texts) or post.get("summary") or "", created_at=post.get("timestamp"),
            author_handle=post.get("blog_name") or blog.get("name") or "", author_name=blog.get("title"),
            url=post.get("post_url"), likes=post.get("note_count"), media_urls=[m for m in media if m],
        )

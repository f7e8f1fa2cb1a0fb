"""Bluesky: ``BlueskySearchCollector`` (post search) and ``BlueskyJetstreamCollector`` (the firehose).

Search: ``GET {base_url}/xrpc/app.bsky.feed.searchPosts?q=...&sort=latest&limit=100&since=<ISO>&cursor=...``
answers ``{"cursor"?: str, "hitsTotal"?: int, "posts": [PostView]}``; a PostView has ``uri``
(``at://<did>/app.bsky.feed.post/<rkey>``), ``cid``, ``author{did, handle, displayName}``,
``record{$type, text, createdAt, langs}``, ``embed`` (``app.bsky.embed.images#view`` with
``images[{fullsize, thumb, alt}]``, or ``recordWithMedia#view``), ``likeCount``, ``repostCount``,
``quoteCount``, ``replyCount``, ``indexedAt``. Newest first; ``cursor`` pages to older posts.

Jetstream: a websocket ``{base_url}/subscribe?wantedCollections=app.bsky.feed.post&cursor=<time_us>``
streams JSON events ``{"did", "time_us", "kind": "commit", "commit": {"rev", "operation": "create",
"collection": "app.bsky.feed.post", "rkey", "record": {"$type", "text", "createdAt", "langs", "embed"},
"cid"}}`` (and ``kind: "identity"`` events carrying ``identity{did, handle}``). Posts whose text contains one
of ``keywords`` (case-insensitive; the rules then decide) are kept; the cursor is the last event's
``time_us``, replayed from on reconnect.

YAML::

    - {name: bluesky, type: bluesky, query: '"Incident Management Solutions"'}
    - {name: bluesky-firehose, type: bluesky_jetstream, keywords: [IMS, "Incident Management"]}
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import Field

from pipeline.collectors.base import (
    Cursor,
    HttpRequest,
    HttpSource,
    Page,
    SourceOptions,
    StreamSource,
    build_mention,
    newest_first_step,
    to_iso,
    wait_until_reset,
)

POST_COLLECTION = "app.bsky.feed.post"


def post_url(author: str, uri: str) -> str:
    return f"https://bsky.app/profile/{author}/post/{uri.rsplit('/', 1)[-1]}"


class BlueskySearchOptions(SourceOptions):
    query: str
    limit: int = Field(default=100, ge=1, le=100)
    lang: str | None = None


class BlueskySearchCollector(HttpSource):
    network = "bluesky"
    default_base_url = "https://public.api.bsky.app"
    Options = BlueskySearchOptions
    options: BlueskySearchOptions
    optional_secrets = ("access_jwt",)

    def auth_headers(self) -> dict[str, str]:
        token = self.secret("access_jwt")
        return {"Authorization": f"Bearer {token}"} if token else {}

    def initial_cursor(self, channel: str) -> Cursor:
        return {"watermark": to_iso(self.backfill_start()), "page": None, "run_top": None}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        params: dict[str, Any] = {"q": self.options.query, "sort": "latest", "limit": self.options.limit}
        if cursor.get("watermark"):
            params["since"] = cursor["watermark"]
        if cursor.get("page"):
            params["cursor"] = cursor["page"]
        if self.options.lang:
            params["lang"] = self.options.lang
        return HttpRequest("GET", "/xrpc/app.bsky.feed.searchPosts", params=params)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        body = response.json()
        posts = body.get("posts") or []
        keys = [self._sort_key(p) for p in posts]
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=body.get("cursor"))
        return Page(mentions=[self._mention(p) for p, k in zip(posts, keep, strict=True) if k],
                    cursor=next_cursor, more=more)

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Bluesky's services send ``ratelimit-remaining`` and ``ratelimit-reset`` (Unix seconds)."""
        return wait_until_reset(response, remaining_header="ratelimit-remaining", reset_header="ratelimit-reset")

    @staticmethod
    def _sort_key(post: dict[str, Any]) -> str:
        record = post.get("record") or {}
        stamps = [to_iso(s) for s in (record.get("createdAt"), post.get("indexedAt")) if s]
        return min(stamps) if stamps else to_iso(None)

    def _mention(self, post: dict[str, Any]) -> dict[str, Any]:
        record = post.get("record") or {}
        author = post.get("author") or {}
        handle = author.get("handle") or author.get("did") or ""
        embed = post.get("embed") or {}
        images = embed.get("images") or (embed.get("media") or {}).get("images") or []
        langs = record.get("langs") or []
        return build_mention(
            source=self.network, source_id=post["uri"], text=record.get("text", ""),
            created_at=record.get("createdAt") or post.get("indexedAt"), author_handle=handle,
            author_name=author.get("displayName"), url=post_url(handle, post["uri"]),
            lang=langs[0] if langs else None, likes=post.get("likeCount"),
            shares=(post.get("repostCount") or 0) + (post.get("quoteCount") or 0)
            if ("repostCount" in post or "quoteCount" in post) else None,
            media_urls=[i.get("fullsize") or i.get("thumb") for i in images if i.get("fullsize") or i.get("thumb")],
        )


class BlueskyJetstreamOptions(SourceOptions):
    keywords: list[str] = Field(min_length=1)
    batch_size: int = Field(default=200, ge=1)
    flush_interval_s: float = Field(default=1.0, gt=0)
    max_message_bytes: int = 1 << 20


class BlueskyJetstreamCollector(StreamSource):
    network = "bluesky"
    default_base_url = "wss://jetstream2.us-east.bsky.network"
    Options = BlueskyJetstreamOptions
    options: BlueskyJetstreamOptions

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handles: dict[str, str] = {}
        self._keywords = [k.casefold() for k in self.options.keywords]

    def initial_cursor(self, channel: str) -> Cursor:
        return {"time_us": int(self.backfill_start().timestamp() * 1_000_000)}

    def subscribe_url(self, cursor: Cursor) -> str:
        url = f"{self.base_url}/subscribe?wantedCollections={POST_COLLECTION}"
        if cursor.get("time_us"):
            url += f"&cursor={int(cursor['time_us'])}"
        return url

    async def stream(self, channel: str, cursor: Cursor, *, idle_timeout_s: float | None) -> AsyncIterator[Page]:
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosedOK

        position = dict(cursor)
        batch: list[dict[str, Any]] = []
        last_event = time.monotonic()
        last_flush = time.monotonic()
        async with connect(self.subscribe_url(cursor), max_size=self.options.max_message_bytes,
                           open_timeout=30) as ws:
            while True:
                try:
                    message = await asyncio.wait_for(ws.recv(), timeout=self.options.flush_interval_s)
                except TimeoutError:
                    message = None
                except ConnectionClosedOK:
                    break
                now = time.monotonic()
                if message is not None:
                    last_event = now
                    event = json.loads(message)
                    if isinstance(event.get("time_us"), int):
                        position = {"time_us": event["time_us"]}
                    mention = self._mention(event)
                    if mention is not None:
                        batch.append(mention)
                if batch and (len(batch) >= self.options.batch_size or now - last_flush >= self.options.flush_interval_s
                              or message is None):
                    yield Page(mentions=batch, cursor=position)
                    batch, last_flush = [], now
                elif message is None and position != cursor:
                    yield Page(mentions=[], cursor=position)  # commit progress through non-matching events
                    cursor = position
                if idle_timeout_s is not None and now - last_event >= idle_timeout_s:
                    break
        if batch or position != cursor:
            yield Page(mentions=batch, cursor=position)

    def _mention(self, event: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("kind") == "identity":
            identity = event.get("identity") or {}
            if identity.get("did") and identity.get("handle"):
                self._handles[identity["did"]] = identity["handle"]
            return None
        commit = event.get("commit") or {}
        if (event.get("kind") != "commit" or commit.get("operation") != "create"
                or commit.get("collection") != POST_COLLECTION):
            return None
        record = commit.get("record") or {}
        text = record.get("text") or ""
        folded = text.casefold()
        if not any(k in folded for k in self._keywords):
            return None
        did = event["did"]
        uri = f"at://{did}/{POST_COLLECTION}/{commit['rkey']}"
        handle = self._handles.get(did, did)
        images = ((record.get("embed") or {}).get("images") or
                  ((record.get("embed") or {}).get("media") or {}).get("images") or [])
        media = []
        for image in images:
            link = ((image.get("image") or {}).get("ref") or {}).get("$link")
            if link:
                media.append(f"https://cdn.bsky.app/img/feed_fullsize/plain/{did}/{link}@jpeg")
        langs = record.get("langs") or []
        return build_mention(source=self.network, source_id=uri, text=text, created_at=record.get("createdAt"),
                             author_handle=handle, url=post_url(handle, uri), lang=langs[0] if langs else None,
                             media_urls=media)

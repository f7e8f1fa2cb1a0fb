"""``RssCollector``: RSS 2.0 / RSS 1.0 / Atom feeds — blogs, Tumblr/Medium/Substack feeds, news-comment and
forum feeds, Google Alerts feeds.

Each feed URL is a channel. A poll sends ``If-None-Match``/``If-Modified-Since`` from the last answer
(``304 Not Modified`` costs nothing), parses the feed with ``feedparser`` and follows RFC 5005 paging
(``<link rel="next">``) towards older entries until it reaches the watermark (the newest entry date of the
last finished poll). Entries on a feed's first page are all considered, however old their date (feeds
publish late and backdate), back to the backfill start; the seen-ids keep them from being produced twice. Entries keep the feed's own id (``<guid>``/``<id>``) and link; Google Alerts'
``https://www.google.com/url?...&url=<target>`` links are unwrapped to the target.

YAML::

    - name: blogs
      type: rss
      network: blog                   # the RawMention.source these entries get (blog, tumblr, news_comment, forum, rss)
      feeds:
        - https://www.google.com/alerts/feeds/000/111
        - {url: https://ims-staff.tumblr.com/rss, network: tumblr}
"""

from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from schemas.records import SOURCES


class FeedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    network: str | None = None


class RssOptions(SourceOptions):
    feeds: list[FeedEntry] = Field(min_length=1)
    network: str = "rss"

    @field_validator("feeds", mode="before")
    @classmethod
    def _strings_are_urls(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        if value not in SOURCES:
            raise ValueError(f"unknown network {value!r}")
        return value


class RssCollector(HttpSource):
    network = "rss"
    Options = RssOptions
    options: RssOptions

    def channels(self) -> list[str]:
        return [f.url for f in self.options.feeds]

    def _network(self, channel: str) -> str:
        for feed in self.options.feeds:
            if feed.url == channel and feed.network:
                return feed.network
        return self.options.network

    def initial_cursor(self, channel: str) -> Cursor:
        start = to_iso(self.backfill_start())
        return {"watermark": start, "page": None, "run_top": None, "floor": start}

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        if cursor.get("page"):
            return HttpRequest("GET", cursor["page"])
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if cursor.get("etag"):
            headers["If-None-Match"] = cursor["etag"]
        if cursor.get("modified"):
            headers["If-Modified-Since"] = cursor["modified"]
        return HttpRequest("GET", channel, headers=headers)

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        if response.status_code == 304:
            return Page(mentions=[], cursor=cursor, more=False)
        parsed = feedparser.parse(response.content, response_headers={k.lower(): v for k, v in response.headers.items()})
        if parsed.bozo and not parsed.entries:
            raise ValueError(f"{channel}: not a feed ({parsed.get('bozo_exception')!r})")
        feed = parsed.feed
        entries = list(parsed.entries)
        keys = [to_iso(_entry_time(e)) for e in entries]
        next_url = next((link.get("href") for link in feed.get("links", []) if link.get("rel") == "next"), None)
        keep, next_cursor, more = newest_first_step(cursor, keys=keys, next_page=next_url)
        floor = cursor.get("floor") or cursor.get("watermark") or ""
        next_cursor["floor"] = floor
        if not cursor.get("page"):
            # The first page of a poll: feeds show entries late or backdated (an alert for an article
            # published yesterday), so every entry since the backfill start is considered (the runner's
            # seen-ids stop repeats); the watermark only decides how far to follow rel="next".
            keep = [key >= floor for key in keys]
            next_cursor["etag"] = response.headers.get("ETag")
            next_cursor["modified"] = response.headers.get("Last-Modified")
        else:
            next_cursor["etag"], next_cursor["modified"] = cursor.get("etag"), cursor.get("modified")
        network = self._network(channel)
        mentions = [self._mention(e, feed, channel, network) for e, k in zip(entries, keep, strict=True) if k]
        return Page(mentions=mentions, cursor=next_cursor, more=more)

    def _mention(self, entry: Any, feed: Any, channel: str, network: str) -> dict[str, Any]:
        link = unwrap_google_link(entry.get("link"))
        title = html_to_text(entry.get("title"))
        content = entry.get("content") or []
        body = html_to_text(content[0].get("value") if content else entry.get("summary"))
        source_id = entry.get("id") or link or hashlib.sha256(f"{channel}\x1f{title}\x1f{body}".encode()).hexdigest()
        author = entry.get("author") or (entry.get("author_detail") or {}).get("name") or feed.get("title") \
            or urlsplit(channel).hostname or channel
        media = [e.get("href") for e in entry.get("enclosures") or []]
        media += [m.get("url") for m in entry.get("media_content") or []]
        media += [m.get("url") for m in entry.get("media_thumbnail") or []]
        lang = (content[0].get("language") if content else None) or feed.get("language")
        return build_mention(
            source=network, source_id=str(source_id), text=f"{title}\n\n{body}".strip() if body else title,
            created_at=_entry_time(entry), author_handle=str(author), url=link, lang=lang,
            media_urls=[m for m in media if m],
        )


def _entry_time(entry: Any) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return None


def unwrap_google_link(link: str | None) -> str | None:
    """Google Alerts wraps result links in ``https://www.google.com/url?...&url=<target>``."""
    if not link:
        return None
    parts = urlsplit(link)
    if parts.hostname and parts.hostname.endswith("google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("url") or parse_qs(parts.query).get("q")
        if target:
            return target[0]
    return link

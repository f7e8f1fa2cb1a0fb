"""What every collector is: something that yields raw mentions, and where they go (Kafka).

Two shapes of collector live here:

* ``Collector`` — a plain iterator of ``CollectedRecord`` (the JSONL replay collector);
* ``Source`` — a network source driven by ``pipeline.collectors.runner.CollectorRunner``, which does the
  scheduling, pagination, checkpoints, rate limits, retries, matching and producing. A source only builds
  requests and parses responses. Most are ``HttpSource``: ``build_request(channel, cursor)`` and
  ``parse_response(channel, cursor, response) -> Page``. A *channel* is one independent stream inside a
  source (one feed URL, one hashtag, one video); each channel has its own persisted cursor.

Example (a complete source for Hacker News' Algolia API is ``pipeline/collectors/hackernews.py``)::

    class ExampleCollector(HttpSource):
        network = "forum"

        def build_request(self, channel, cursor):
            return HttpRequest("GET", "/posts.json", params={"after": cursor.get("after", 0)})

        def parse_response(self, channel, cursor, response):
            body = response.json()
            mentions = [build_mention(source="forum", source_id=str(p["id"]), text=p["text"],
                                      created_at=p["created_at"], author_handle=p["user"]) for p in body["posts"]]
            more = body["next"] is not None
            return Page(mentions=mentions, cursor={"after": body["next"]} if more else cursor, more=more)

A collector does not validate: it turns what the source gave it into the raw-mention wire format as best it
can and keys it by the stable mention id. The pipeline validates at its edge (``normalise_mentions``) and
sends what fails to the dead-letter topic, so nothing a source produced is lost silently.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, SecretStr

from schemas.records import SCHEMA_VERSION, make_mention_id
from schemas.validation import InvalidRecord, normalise_timestamp, utc_now_iso

if TYPE_CHECKING:
    import httpx

Cursor = dict[str, Any]
"""A channel's position, JSON-serialisable; persisted by ``CheckpointStore`` after Kafka acknowledged."""


@dataclass(frozen=True)
class CollectedRecord:
    """One item as it will be produced: the Kafka key (the mention id) and the value bytes."""

    key: str
    value: bytes


class Collector(Protocol):
    name: str

    def collect(self) -> Iterator[CollectedRecord]: ...


# ------------------------------------------------------------------------------------------- source model
class SourceOptions(BaseModel):
    """Per-source options from the YAML entry; each source subclasses this with its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Page:
    """What one request yielded: raw-mention dicts, the cursor to persist after them, and whether to go on."""

    mentions: list[dict[str, Any]]
    cursor: Cursor
    more: bool = False


@dataclass(frozen=True)
class HttpRequest:
    """A request relative to the source's base URL (an absolute ``url`` is used as is, e.g. a ``next`` link)."""

    method: str
    url: str
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None


class Source:
    """A network source run by ``CollectorRunner``. Subclasses set ``network`` and ``Options``.

    ``name`` is the YAML entry's name (unique); ``network`` is the ``RawMention.source`` value it produces.
    ``required_secrets`` name the secrets the entry must map to environment variables.
    """

    network: ClassVar[str] = "rss"
    default_base_url: ClassVar[str] = ""
    Options: ClassVar[type[SourceOptions]] = SourceOptions
    required_secrets: ClassVar[tuple[str, ...]] = ()
    optional_secrets: ClassVar[tuple[str, ...]] = ()
    needs_base_url: ClassVar[bool] = False

    def __init__(self, *, name: str, options: SourceOptions, secrets: Mapping[str, SecretStr] | None = None,
                 base_url: str | None = None, backfill: timedelta = timedelta(hours=24)) -> None:
        self.name = name
        self.options = options
        self.secrets = dict(secrets or {})
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self.backfill = backfill

    def secret(self, key: str) -> str | None:
        value = self.secrets.get(key)
        return value.get_secret_value() if value is not None else None

    def channels(self) -> list[str]:
        """The independent streams of this source; each keeps its own cursor."""
        return ["default"]

    def initial_cursor(self, channel: str) -> Cursor:
        """The cursor of a channel never polled before (e.g. a watermark ``backfill`` ago)."""
        return {}

    def backfill_start(self) -> datetime:
        return datetime.now(UTC) - self.backfill


class HttpSource(Source):
    """A source polled over HTTP. The runner sends the request (retries, rate limits, timeouts)."""

    def build_request(self, channel: str, cursor: Cursor) -> HttpRequest:
        raise NotImplementedError

    def parse_response(self, channel: str, cursor: Cursor, response: httpx.Response) -> Page:
        raise NotImplementedError

    def auth_headers(self) -> dict[str, str]:
        return {}

    def rate_limit_wait(self, response: httpx.Response) -> float | None:
        """Seconds to wait before the next request when a success response says the quota is spent."""
        return None

    def is_rate_limited(self, response: httpx.Response) -> bool:
        """True for "slow down" answers; 429 everywhere, some APIs add their own (Graph API error codes)."""
        return response.status_code == 429


class PollSource(Source):
    """A source polled by its own client (IMAP): ``fetch`` returns one page per call."""

    async def fetch(self, channel: str, cursor: Cursor, *, timeout_s: float) -> Page:
        raise NotImplementedError


class StreamSource(Source):
    """A push source (websocket firehose): ``stream`` yields pages as events arrive; the runner commits
    each page's cursor after Kafka acknowledged it, and reconnects with backoff when the stream drops."""

    async def stream(self, channel: str, cursor: Cursor, *, idle_timeout_s: float | None) -> AsyncIterator[Page]:
        raise NotImplementedError
        yield  # pragma: no cover


Deliver = Callable[[list[dict[str, Any]]], Awaitable[int]]
"""Hands mentions to the runner (match, link employees, produce, wait for Kafka); returns how many went out."""


class ServerSource(Source):
    """A source that listens (the signed webhook): ``serve`` runs until ``stop`` is set, passing what it
    receives to ``deliver``, which returns only after Kafka acknowledged, so the sender can be told."""

    async def serve(self, deliver: Deliver, *, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        raise NotImplementedError


# ------------------------------------------------------------------------------------------ mention helpers
def build_mention(*, source: str, source_id: str, text: str, created_at: str | datetime | float | int | None,
                  author_handle: str, author_name: str | None = None, url: str | None = None,
                  lang: str | None = None, followers: int | None = None, likes: int | None = None,
                  shares: int | None = None, media_urls: Iterable[str] = (),
                  collected_at: str | None = None) -> dict[str, Any]:
    """A raw-mention dict in the ``mentions.raw`` wire format (``schemas.records.RawMention``)."""
    counts = {"followers": _count(followers), "likes": _count(likes), "shares": _count(shares)}
    return {
        "schema_version": SCHEMA_VERSION,
        "mention_id": make_mention_id(source, source_id),
        "source": source,
        "source_id": source_id,
        "url": url or None,
        "text": text,
        "created_at": to_iso(created_at),
        "collected_at": collected_at or utc_now_iso(),
        "lang": lang or None,
        "author": {"handle": author_handle or "unknown", "display_name": author_name or None,
                   "is_employee": False, "employee_id": None},
        "reach": counts if any(v is not None for v in counts.values()) else None,
        "media_urls": list(dict.fromkeys(u for u in media_urls if u)),
        "matched_rule": None,
    }


def to_iso(value: str | datetime | float | int | None) -> str:
    """ISO-8601 UTC (``...Z``) from an ISO string, a datetime, or Unix seconds; now when missing/unparsable."""
    if value is None or value == "":
        return utc_now_iso()
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, int | float):
        return to_iso(datetime.fromtimestamp(value, UTC))
    try:
        return normalise_timestamp(value, field="created_at")
    except InvalidRecord:
        from email.utils import parsedate_to_datetime
        try:
            return to_iso(parsedate_to_datetime(value))
        except (TypeError, ValueError):
            return utc_now_iso()


def _count(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset({"p", "br", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Plain text from an HTML fragment (Mastodon statuses, feed summaries); entities decoded."""
    if not markup:
        return ""
    if "<" not in markup:
        return html.unescape(markup).strip()
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


# --------------------------------------------------------------------------------------- cursor strategies
def newest_first_step(cursor: Cursor, *, keys: list[Any], next_page: Any) -> tuple[list[bool], Cursor, bool]:
    """Cursor step for APIs that list newest first and page towards older items.

    The cursor is ``{"watermark": newest key of the last finished run, "page": token of the next page in the
    current run, "run_top": newest key seen in the current run}``. Items at or above the watermark are kept
    (ties are removed by the runner's seen-ids), a run ends when a page reaches below the watermark or has
    no next page, and only then does the watermark advance. A restart mid-run resumes at ``page``.
    Returns (keep flags, next cursor, more).
    """
    watermark = cursor.get("watermark")
    keep = [watermark is None or key >= watermark for key in keys]
    candidates = [k for k in [cursor.get("run_top"), *keys] if k is not None]
    top = max(candidates) if candidates else None
    reached = watermark is not None and any(key < watermark for key in keys)
    if next_page is None or next_page == "" or reached or not keys:
        return keep, {"watermark": top if top is not None else watermark, "page": None, "run_top": None}, False
    return keep, {"watermark": watermark, "page": next_page, "run_top": top}, True


def wait_until_reset(response: Any, *, remaining_header: str, reset_header: str) -> float | None:
    """Seconds to wait from an API's "requests left" / "window resets at (Unix seconds)" headers, when the
    response is a 429 or the allowance is used up; ``None`` when the headers say nothing useful."""
    remaining = response.headers.get(remaining_header)
    reset = response.headers.get(reset_header)
    if reset is None or (response.status_code != 429 and (remaining or "").strip() != "0"):
        return None
    try:
        return max(0.0, float(reset) - time.time())
    except ValueError:
        return None


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())

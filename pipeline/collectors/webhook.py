"""``WebhookCollector``: a signed HTTP endpoint for vendor feeds and for networks with no public API
(Snapchat, LinkedIn) whose mentions reach us through a listening vendor or a forwarding integration.

``POST {host}:{port}{path}`` with a JSON body — one mention object, an array of them, or
``{"mentions": [...]}`` — and the header ``X-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with
the shared secret>``. A mention object carries ``source`` (one of ``schemas.records.SOURCES``, e.g.
``linkedin``), ``source_id``, ``text``, ``created_at``, ``author{handle, display_name}`` and optionally ``url``,
``lang``, ``reach{followers, likes, shares}``, ``media_urls``.

Answers: ``202 {"received": n, "produced": m}`` once Kafka acknowledged (so a sender that gets no 2xx must
retry and nothing is lost), ``401`` for a missing/wrong signature, ``400`` for a body that is not JSON,
``422`` with per-item reasons when an item lacks required fields, ``413`` when larger than ``max_body_bytes``.
``GET /healthz`` answers 200.

YAML::

    - {name: vendor-hook, type: webhook, host: 0.0.0.0, port: 8787, secrets: {signing_secret: IMS_WEBHOOK_SECRET}}

Sign a test request: ``printf %s "$BODY" | openssl dgst -sha256 -hmac "$IMS_WEBHOOK_SECRET"``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from pydantic import Field

from pipeline.collectors.base import Deliver, ServerSource, SourceOptions, build_mention
from schemas.records import SOURCES

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Signature-256"


def sign(body: bytes, secret: str) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None, secret: str) -> bool:
    if not header:
        return False
    given = header.strip()
    given = given.split("=", 1)[1] if given.lower().startswith("sha256=") else given
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(given.lower(), expected)


class WebhookOptions(SourceOptions):
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    path: str = "/webhook"
    max_body_bytes: int = Field(default=1_000_000, gt=0)
    signature_header: str = SIGNATURE_HEADER


class WebhookCollector(ServerSource):
    network = "webhook"
    Options = WebhookOptions
    options: WebhookOptions
    required_secrets = ("signing_secret",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bound_port: int | None = None
        self.ready = asyncio.Event()

    async def serve(self, deliver: Deliver, *, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post(self.options.path, lambda request: self._handle(request, deliver))
        app.router.add_get("/healthz", lambda request: _healthz())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self.options.port
        log.info("%s: listening on http://%s:%s%s", self.name, self.options.host, self.bound_port, self.options.path)
        self.ready.set()
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    async def _handle(self, request: web.Request, deliver: Deliver) -> web.Response:
        if request.content_length is not None and request.content_length > self.options.max_body_bytes:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        secret = self.secret("signing_secret") or ""
        if not verify_signature(body, request.headers.get(self.options.signature_header), secret):
            return web.json_response({"error": f"missing or invalid {self.options.signature_header}"}, status=401)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return web.json_response({"error": f"body is not JSON: {exc}"}, status=400)
        items = payload.get("mentions") if isinstance(payload, dict) and "mentions" in payload else payload
        if isinstance(items, dict):
            items = [items]
        if not isinstance(items, list):
            return web.json_response({"error": "expected a mention object, an array, or {\"mentions\": [...]}"},
                                     status=400)
        mentions, problems = [], []
        for index, item in enumerate(items):
            try:
                mentions.append(self._mention(item))
            except ValueError as exc:
                problems.append({"index": index, "error": str(exc)})
        if problems:
            return web.json_response({"error": "invalid mentions", "items": problems}, status=422)
        produced = await deliver(mentions)
        return web.json_response({"received": len(mentions), "produced": produced}, status=202)

    @staticmethod
    def _mention(item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise ValueError("a mention must be a JSON object")
        for key in ("source", "source_id", "text", "created_at"):
            if not isinstance(item.get(key), str) or (key != "text" and not item[key].strip()):
                raise ValueError(f"field '{key}' is required and must be a string")
        if item["source"] not in SOURCES:
            raise ValueError(f"unknown source {item['source']!r}")
        author = item.get("author")
        if not isinstance(author, dict) or not isinstance(author.get("handle"), str) or not author["handle"]:
            raise ValueError("field 'author.handle' is required")
        reach: dict[str, Any] = item["reach"] if isinstance(item.get("reach"), dict) else {}
        media: list[Any] = item["media_urls"] if isinstance(item.get("media_urls"), list) else []
        return build_mention(
            source=item["source"], source_id=item["source_id"], text=item["text"], created_at=item["created_at"],
            author_handle=author["handle"], author_name=author.get("display_name"), url=item.get("url"),
            lang=item.get("lang"), followers=reach.get("followers"), likes=reach.get("likes"),
            shares=reach.get("shares"), media_urls=[m for m in media if isinstance(m, str)],
        )


async def _healthz() -> web.Response:
    return web.json_response({"status": "ok"})

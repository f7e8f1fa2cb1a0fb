"""Fixtures for the dashboard tests: a live dashboard (uvicorn in a thread) on the real Elasticsearch.

The flagged-item index (the session's own prefix + ``-dash``) is seeded through ``FlaggedItemStore``, the
worker's own writer; users of each role are created through the same service ``ims-monitor users add`` uses.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from elasticsearch import Elasticsearch
from playwright.sync_api import Browser

from pipeline.dashboard.app import create_app
from pipeline.dashboard.auth import create_user
from pipeline.dashboard.indices import DashboardIndices, ensure_dashboard_indices
from pipeline.dashboard.models import Role
from pipeline.search.client import create_async_client
from pipeline.search.flagged_item_store import FlaggedItemStore, ensure_flagged_index
from pipeline.settings import DashboardSettings, Settings
from schemas.records import POLICY_LABELS, FlaggedItem
from tests.conftest import derive_settings

T = TypeVar("T")
PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "reviewer", "admin")
_n = itertools.count(1)


def flagged_item(text: str = "IMS managers are hiding the incident figures", **overrides: Any) -> FlaggedItem:
    """A flagged item as the worker indexes it; unique id unless ``source``/``source_id`` are given."""
    n = next(_n)
    source = overrides.pop("source", "twitter")
    source_id = overrides.pop("source_id", f"dash{n:06d}")
    labels = overrides.pop("labels", ["reputation_risk"])
    scores = {label: (0.9 if label in labels else 0.05) for label in POLICY_LABELS}
    fields: dict[str, Any] = dict(
        schema_version=1, mention_id=f"{source}:{source_id}", source=source, source_id=source_id,
        url=f"https://example.com/{source}/{source_id}", text=text, created_at="2026-11-20T10:15:00Z",
        collected_at="2026-11-20T10:16:00Z", author_handle=f"@author{n}", author_display_name=f"Author {n}",
        author_is_employee=False, employee_id=None, lang="en", reach_followers=100, reach_likes=3, reach_shares=1,
        media_urls=[], matched_rule=None, about_ims=0.9, labels=labels, scores=scores, risk=50,
        explanations={label: ["incident"] for label in labels}, classifier="test-fixture",
        classified_at="2026-11-20T10:17:00Z", indexed_at="2026-11-20T10:17:01Z",
    )
    fields.update(overrides)
    return FlaggedItem(**fields)


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on a fresh loop in its own thread (Playwright's sync API owns this one)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coroutine))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def index_items(settings: Settings, items: list[FlaggedItem]) -> None:
    async def main() -> None:
        store = FlaggedItemStore(create_async_client(settings.elasticsearch), index=settings.elasticsearch.flagged_index)
        try:
            failures = await store.index_items(items)
            assert not failures, failures
            await store.client.indices.refresh(index=store.index)
        finally:
            await store.close()

    run_async(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveDashboard:
    url: str
    settings: Settings
    indices: DashboardIndices

    def client(self, role: str | None = None) -> httpx.Client:
        """An HTTP client; signed in as the user of ``role`` when given. Sends this site's Origin on changes."""
        client = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30,
                              headers={"Origin": self.url})
        if role:
            sign_in(client, username=role, password=PASSWORD)
        return client


def login_form_token(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


def sign_in(client: httpx.Client, *, username: str, password: str) -> httpx.Response:
    token = login_form_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                           "next": "/"})
    assert response.status_code == 303, response.text[:500]
    return response


def csrf_of(client: httpx.Client) -> str:
    return client.get("/api/me").json()["csrf_token"]


@pytest.fixture(scope="session")
def dash_settings(settings: Settings) -> Settings:
    ours = derive_settings(settings, "dash")
    config = DashboardSettings(port=free_port(), session_secret="test-secret-" + "x" * 40,
                               login_max_failures=5, login_max_failures_per_ip=200)
    return ours.model_copy(update={"dashboard": config})


@pytest.fixture(scope="session")
def dashboard(dash_settings: Settings, es_client: Elasticsearch) -> Iterator[LiveDashboard]:
    """The dashboard served on a free 127.0.0.1 port, with one user per role (user name = role)."""
    settings = dash_settings
    indices = DashboardIndices.from_settings(settings.elasticsearch)
    ensure_flagged_index(es_client, indices.flagged)

    async def make_users() -> None:
        client = create_async_client(settings.elasticsearch)
        try:
            await ensure_dashboard_indices(client, indices)
            for role in ROLES:
                await create_user(client, indices, username=role, password=PASSWORD, role=Role(role),
                                  display_name=f"Test {role}")
            await create_user(client, indices, username="throttled", password=PASSWORD, role=Role.viewer)
        finally:
            await client.close()

    run_async(make_users())
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.dashboard.port, log_level="warning",
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{settings.dashboard.port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start"
        assert thread.is_alive(), "the dashboard thread died"
        time.sleep(0.05)
    try:
        yield LiveDashboard(url=url, settings=settings, indices=indices)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (never ``playwright install``).

    Per module: Playwright's sync API holds an event loop in the main thread while it runs, which would stop
    other modules' ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()

"""Hostile content renders inert and readable: a test fails if any script runs.

The items carry script tags, event-handler attributes, javascript:/data: URLs, attribute break-outs, a very
long unbroken string and right-to-left override characters in their text, author, URL, media, explanation and
id fields. Each page that shows them is opened in Chromium with traps for dialogs, CSP violations and a
``window.__pwned`` flag that every payload tries to set; the DOM is then searched for anything executable.
A positive control first proves the traps catch a script that does run.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, expect

from tests.dashboard.browser import DOM_AUDIT, screenshot, sign_in, watched_context
from tests.dashboard.conftest import PASSWORD, LiveDashboard, flagged_item, index_items

pytestmark = pytest.mark.integration

SCRIPT = "<script>window.__pwned='script';alert('script')</script>"
IMG = "<img src=x onerror=\"window.__pwned='img';alert('img')\">"
SVG = "<svg onload=\"window.__pwned='svg'\"><a xlink:href=\"javascript:alert('svg')\">x</a></svg>"
BREAKOUT = "\"'><script>window.__pwned='breakout'</script><b onmouseover=\"window.__pwned='hover'\">"
JS_URL = "javascript:window.__pwned='url';alert('url')"
RLO = "invoice\u202egpj.exe and \u2067isolate\u2069 \u200bzero-width"
LONG = "A" * 6000
TEMPLATE = "{{ 7*7 }} {% raw %}${7*7}"


@pytest.fixture(scope="module")
def hostile_ids(dashboard: LiveDashboard) -> list[str]:
    items = [
        flagged_item(f"zqxhostile {SCRIPT} IMS script tag {TEMPLATE}", source_id="hostile-script",
                     author_handle=SCRIPT, author_display_name=IMG, url=JS_URL,
                     media_urls=[JS_URL, "data:text/html,<script>alert('data')</script>",
                                 "https://example.com/a.png\" onerror=\"alert('media')",
                                 " javascript:alert('space')", "java\tscript:alert('tab')"],
                     explanations={"reputation_risk": [SCRIPT, IMG]}, employee_id=BREAKOUT,
                     author_is_employee=True, matched_rule=SVG, risk=91),
        flagged_item(f"zqxhostile {IMG} {SVG} IMS handlers", source_id=f"hostile-{BREAKOUT}",
                     author_handle=f"@{BREAKOUT}", url="JaVaScRiPt:alert('case')", risk=90,
                     labels=["harassment"], created_at="2026-11-21T10:00:00Z"),
        flagged_item(f"zqxhostile IMS {RLO} {LONG}", source_id="hostile-rlo", author_handle=f"@{RLO}",
                     author_display_name=LONG, url=f"https://example.com/{LONG[:3000]}", risk=89,
                     media_urls=[f"https://example.com/{'B' * 3000}.png"]),
    ]
    index_items(dashboard.settings, items)
    return [item.mention_id for item in items]


@pytest.fixture(scope="module")
def admin_session(browser: Browser, dashboard: LiveDashboard) -> Iterator:
    watched = watched_context(browser)
    page = watched.new_page()
    sign_in(page, dashboard.url, "admin", PASSWORD)
    yield watched, page
    watched.context.close()


def assert_inert(page, watched, base_url: str) -> dict:
    audit = page.evaluate(DOM_AUDIT)
    assert watched.dialogs == [], f"a dialog opened: {watched.dialogs}"
    assert audit["pwned"] is None, f"a payload ran: {audit['pwned']}"
    assert audit["csp"] == [], f"the page tried to run or load something blocked: {audit['csp']}"
    assert audit["handlers"] == [], f"event-handler attributes in the DOM: {audit['handlers'][:5]}"
    assert audit["scripts"] == [base_url + "/static/app.js"]
    assert all(e.startswith(f"FORM {base_url}/") for e in audit["embeds"]), audit["embeds"]  # no img/iframe/...
    for link in audit["links"]:
        assert link["href"].startswith(("http://", "https://")), link
        if not link["href"].startswith(base_url):
            assert link["target"] == "_blank" and set(link["rel"].split()) >= {"noopener", "noreferrer"}, link
    assert audit["scrollWidth"] <= audit["innerWidth"] + 1, "a long string pushed the page sideways"
    assert watched.page_errors == []
    return audit


def test_traps_catch_a_script_that_runs(browser: Browser) -> None:
    watched = watched_context(browser)
    page = watched.new_page()
    page.set_content(f"<p>control</p>{SCRIPT}{IMG}")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") in ("script", "img")
    assert watched.dialogs
    watched.context.close()


def test_search_results_show_hostile_text_as_text(admin_session, dashboard: LiveDashboard,
                                                  hostile_ids: list[str]) -> None:
    watched, page = admin_session
    for query in ("zqxhostile", "zqxhostile script", "zqxhostile onerror"):
        page.goto(dashboard.url + "/search?q=" + quote(query))
        expect(page.locator("#result-count")).not_to_have_text("0 items")
        assert_inert(page, watched, dashboard.url)
    page.goto(dashboard.url + "/search?q=zqxhostile")
    expect(page.locator("tr.hit")).to_have_count(3)
    expect(page.locator("tr.hit", has_text="window.__pwned='script'").first).to_be_visible()  # readable as text
    assert "<script>window.__pwned='script'" in page.inner_text("table.hits")
    assert "⟦U+202E⟧" in page.inner_text("table.hits")
    screenshot(page, "10-hostile-search")


def test_item_pages_render_every_field_inert(admin_session, dashboard: LiveDashboard, hostile_ids: list[str]) -> None:
    watched, page = admin_session
    for n, item_id in enumerate(hostile_ids):
        page.goto(dashboard.url + "/items/" + quote(item_id, safe=""))
        expect(page.locator("#item-text")).to_contain_text("zqxhostile")
        assert_inert(page, watched, dashboard.url)
        screenshot(page, f"11-hostile-item-{n}", full_page=False)
    # the javascript: URL is shown as text, not as a link; only the plain https media link is a link
    page.goto(dashboard.url + "/items/" + quote(hostile_ids[0], safe=""))
    expect(page.locator("#item-link a")).to_have_count(0)
    expect(page.locator("#item-link")).to_contain_text("javascript:window.__pwned")
    expect(page.locator("#item-media a")).to_have_count(0)
    expect(page.locator("#item-author")).to_have_text(SCRIPT)
    expect(page.locator("#item-text")).to_contain_text(TEMPLATE)  # no server-side template evaluation either
    # right-to-left override and invisible characters are shown, not obeyed
    page.goto(dashboard.url + "/items/" + quote(hostile_ids[2], safe=""))
    text = page.inner_text("#item-text")
    assert "invoice⟦U+202E⟧gpj.exe" in text and "⟦U+200B⟧" in text and "\u202e" not in text
    expect(page.locator("#item-link a")).to_have_attribute("rel", "noopener noreferrer")


def test_overview_and_audit_log_stay_inert(admin_session, dashboard: LiveDashboard, hostile_ids: list[str]) -> None:
    watched, page = admin_session
    for path in ("/", "/audit", "/audit?action=item_view", "/users"):
        page.goto(dashboard.url + path)
        assert_inert(page, watched, dashboard.url)
    page.goto(dashboard.url + "/audit?action=item_view")
    expect(page.locator("tr.audit-entry", has_text="hostile-\"'><script>").first).to_be_visible()
    screenshot(page, "12-hostile-audit")

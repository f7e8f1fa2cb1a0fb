"""The dashboard in a real browser: sign in, search, filter, open an item, change its status, see the audit entry.

Screenshots of the main pages are kept in test-artifacts/dashboard/.
"""

from __future__ import annotations

import html
import http.server
import json
import re
import threading
from contextlib import closing

import pytest
from playwright.sync_api import Browser, expect

from tests.dashboard.browser import DOM_AUDIT, screenshot, sign_in, watched_context
from tests.dashboard.conftest import PASSWORD, LiveDashboard, flagged_item, index_items

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def flow_items(dashboard: LiveDashboard) -> list[str]:
    items = [
        flagged_item("IMS zqxflow manager keeps shouting at the night shift, this is harassment",
                     source="reddit", source_id="flow-1", labels=["harassment", "disrepute"], risk=72,
                     author_is_employee=True, employee_id="E314", author_handle="@nightshift",
                     media_urls=["https://example.com/photo.jpg"], created_at="2026-11-18T22:00:00Z"),
        flagged_item("IMS zqxflow logo on a fake page", source="facebook", source_id="flow-2",
                     labels=["logo_misuse"], risk=35, created_at="2026-11-12T08:00:00Z"),
        flagged_item("zqxflow IMS crew drinking on shift", source="twitter", source_id="flow-3",
                     labels=["safeguarding"], risk=55, created_at="2026-11-02T19:00:00Z"),
    ]
    index_items(dashboard.settings, items)
    return [i.mention_id for i in items]


def test_sign_in_search_filter_open_change_status_and_audit(browser: Browser, dashboard: LiveDashboard,
                                                            flow_items: list[str]) -> None:
    base = dashboard.url
    reviewer = watched_context(browser)
    page = reviewer.new_page()
    page.goto(base + "/search?q=zqxflow")
    assert "/login" in page.url  # no data before signing in
    screenshot(page, "01-login")
    page.fill("input[name=username]", "reviewer")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/search\?q=zqxflow$"))  # back where the link pointed

    expect(page.locator("#result-count")).to_have_text("3 items")
    expect(page.locator("tr.hit mark").first).to_have_text("zqxflow")
    screenshot(page, "02-search")

    page.click("section.facet[data-facet=label] a[data-value=harassment]")
    page.wait_for_url(re.compile(r"label=harassment"))
    expect(page.locator("#result-count")).to_have_text("1 item")
    expect(page.locator("section.facet[data-facet=label] a[data-value=harassment]")).to_have_class(re.compile("selected"))

    # A second reviewer opens the same item before the first one saves.
    other = watched_context(browser)
    other_page = other.new_page()
    sign_in(other_page, base, "admin", PASSWORD)
    other_page.goto(base + "/items/" + flow_items[0].replace(":", "%3A"))

    page.click("tr.hit a.open")
    page.wait_for_url(re.compile(r"/items/"))
    expect(page.locator("#item-text")).to_contain_text("keeps shouting at the night shift")
    expect(page.locator("tr.decided[data-label=harassment]")).to_contain_text("0.90")
    expect(page.locator("#item-media a")).to_have_attribute("rel", "noopener noreferrer")
    expect(page.locator("#review-status")).to_have_text("new")
    screenshot(page, "03-item")

    page.select_option("#review-new-status", "in_review")
    page.fill("#review-note", "Spoke to the line manager; collecting statements.")
    page.click("#review-save")
    expect(page.locator("#review-status")).to_have_text("in review")
    expect(page.locator("#review-assignee")).to_have_text("reviewer")
    expect(page.locator("#review-history li").first).to_contain_text("new → in review")
    expect(page.locator(".note p").first).to_have_text("Spoke to the line manager; collecting statements.")
    screenshot(page, "04-item-in-review")

    # The second reviewer's stale form does not overwrite: they are told, and nothing changes.
    other_page.select_option("#review-new-status", "dismissed")
    other_page.click("#review-save")
    expect(other_page.locator("#review-message")).to_contain_text("Not saved")
    expect(other_page.locator("#review-message")).to_contain_text("reviewer changed it to in review")
    screenshot(other_page, "05-item-conflict")
    page.reload()
    expect(page.locator("#review-status")).to_have_text("in review")

    # The admin sees the status change in the audit log.
    other_page.goto(base + "/audit?actor=reviewer&action=status_change")
    entry = other_page.locator("tr.audit-entry", has_text=flow_items[0]).first
    expect(entry).to_contain_text("status_change")
    expect(entry).to_contain_text("in_review")
    screenshot(other_page, "06-audit")
    other_page.goto(base + "/audit?actor=reviewer&action=item_view")
    expect(other_page.locator("tr.audit-entry", has_text=flow_items[0]).first).to_be_visible()
    other_page.goto(base + "/audit?actor=reviewer&action=search")
    expect(other_page.locator("tr.audit-entry", has_text="zqxflow").first).to_be_visible()

    # The overview draws its charts without any script from elsewhere.
    page.goto(base + "/")
    expect(page.locator("svg.chart")).to_have_count(2)
    expect(page.locator("[data-queue=in_review]")).not_to_have_text("0")
    screenshot(page, "07-overview")

    page.click("form.signout button")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto(base + "/search")
    assert "/login" in page.url

    for watched in (reviewer, other):
        assert watched.dialogs == [] and watched.page_errors == []
        assert all(url.startswith(base) for url in watched.requests), "every asset comes from the app itself"
        watched.context.close()


def test_bulk_dismiss_from_the_results_list(browser: Browser, dashboard: LiveDashboard) -> None:
    items = [flagged_item(f"IMS zqxbulkui complaint {n}", source_id=f"bulkui-{n}") for n in range(4)]
    index_items(dashboard.settings, items)
    watched = watched_context(browser)
    page = watched.new_page()
    sign_in(page, dashboard.url, "reviewer", PASSWORD)
    page.goto(dashboard.url + "/search?q=zqxbulkui&sort=oldest")
    expect(page.locator("#bulk-dismiss")).to_be_disabled()
    page.check("input.select[value='twitter:bulkui-0']")
    page.check("input.select[value='twitter:bulkui-1']")
    page.click("#bulk-dismiss")
    expect(page.locator("#bulk-n")).to_have_text("2")
    page.click("#bulk-confirm")
    expect(page.locator("#bulk-message")).to_contain_text("2 dismissed")
    page.wait_for_load_state("load")
    page.goto(dashboard.url + "/search?q=zqxbulkui&status=dismissed")
    expect(page.locator("#result-count")).to_have_text("2 items")
    assert watched.dialogs == [] and watched.page_errors == []
    watched.context.close()


def test_viewer_sees_no_review_controls_or_export(browser: Browser, dashboard: LiveDashboard,
                                                  flow_items: list[str]) -> None:
    watched = watched_context(browser)
    page = watched.new_page()
    sign_in(page, dashboard.url, "viewer", PASSWORD)
    page.goto(dashboard.url + "/search?q=zqxflow")
    expect(page.locator("#bulk-dismiss")).to_have_count(0)
    expect(page.get_by_text("Export CSV")).to_have_count(0)
    page.goto(dashboard.url + "/items/" + flow_items[1])
    expect(page.locator("#review-form")).to_have_count(0)
    page.goto(dashboard.url + "/audit")
    expect(page.locator("h1")).to_have_text("403")
    audit = page.evaluate(DOM_AUDIT)
    assert audit["pwned"] is None and audit["csp"] == []
    watched.context.close()


class _EvilSite:
    """Another web site (another port on 127.0.0.1: a different origin, yet the same site for cookies)."""

    def __init__(self, html: str) -> None:
        body = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _EvilSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_forged_cross_site_post_is_refused(browser: Browser, dashboard: LiveDashboard) -> None:
    item = flagged_item("IMS zqxforged item an attacker wants dismissed", source_id="forged-1")
    index_items(dashboard.settings, [item])
    watched = watched_context(browser)
    page = watched.new_page()
    sign_in(page, dashboard.url, "reviewer", PASSWORD)
    version = page.evaluate(f"fetch('/api/items/{item.mention_id}').then(r => r.json()).then(j => j.version)")
    payload = json.dumps({"items": {item.mention_id: version}, "pad": ""})[:-2]  # text/plain JSON forgery
    evil = f"""<!doctype html><title>win a prize</title>
      <form id="json" method="post" enctype="text/plain" action="{dashboard.url}/api/items/bulk-dismiss" target="a">
        <input name='{html.escape(payload, quote=True)}' value='"}}'></form>
      <form id="out" method="post" action="{dashboard.url}/logout" target="b">
        <input name="csrf_token" value="guessed"></form>
      <iframe name="a"></iframe><iframe name="b"></iframe>
      <script>
        fetch("{dashboard.url}/api/items/bulk-dismiss", {{method: "POST", credentials: "include", mode: "no-cors",
          headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{items: {{"{item.mention_id}": "{version}"}}}})}});
        document.getElementById("json").submit();
        document.getElementById("out").submit();
        window.done = true;
      </script>"""
    with _EvilSite(evil) as site:
        attacker = watched.new_page()
        attacker.goto(site.url)
        attacker.wait_for_function("window.done === true")
        attacker.wait_for_timeout(1500)
        attacker.close()
    # still signed in, the item untouched, and the attempts are in the audit log
    page.goto(dashboard.url + "/items/" + item.mention_id)
    expect(page.locator("#review-status")).to_have_text("new")
    with closing(dashboard.client("admin")) as admin:
        entries = admin.get("/api/audit", params={"action": "csrf_rejected", "actor": "reviewer"}).json()["entries"]
    origins = {e["details"].get("origin") for e in entries}
    assert site.url.rstrip("/") in origins
    watched.context.close()

"""Playwright driving Debian's Chromium (/usr/bin/chromium; no browser download), with traps for script runs.

Every page gets, before any of its own code runs, a listener that records Content-Security-Policy
violations; the test records every dialog (alert/confirm/prompt) and every request the page makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"

TRAPS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""

# Everything in the DOM that could run or navigate to script, and every link's safety attributes.
DOM_AUDIT = """
() => {
  const handlers = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.toLowerCase().startsWith('on')) handlers.push(el.tagName + ' ' + attr.name);
    }
  }
  const scripts = [...document.scripts].map(s => s.src || 'inline:' + s.textContent.slice(0, 60));
  const links = [...document.querySelectorAll('a[href]')].map(a => ({href: a.href, target: a.target, rel: a.rel}));
  const embeds = [...document.querySelectorAll('iframe, object, embed, img, video, audio, form[action]')]
    .map(e => e.tagName + ' ' + new URL(e.getAttribute('src') || e.getAttribute('data') ||
                                        e.getAttribute('action') || '', location.href).href);
  return {handlers, scripts, links, embeds, pwned: window.__pwned === undefined ? null : window.__pwned,
          csp: window.__cspViolations || [], scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth};
}
"""


@dataclass
class Watched:
    """A browser context whose pages report dialogs, console errors and requests."""

    context: BrowserContext
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.set_default_timeout(15_000)
        page.on("dialog", lambda d: (self.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        return page


def watched_context(browser: Browser, **options: Any) -> Watched:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.add_init_script(TRAPS)
    return Watched(context=context)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, timeout=30_000)
    return path


def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)

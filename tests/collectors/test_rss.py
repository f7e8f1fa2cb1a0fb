"""RSS 2.0, Atom (RFC 5005 paging) and Google Alerts feeds from a local server, with ETag / 304."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from pipeline.collectors.rss import RssCollector, unwrap_google_link
from tests.collectors.helpers import LocalServer, make_source, run_once, sqlite_store


class FakeFeeds:
    def __init__(self) -> None:
        self.blog_items = [(1, "IMS at the expo"), (2, "Why I left IMS")]

    async def blog(self, request: web.Request) -> web.Response:
        etag = f'"v{len(self.blog_items)}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        items = "".join(
            f"""<item><title>{title}</title><link>https://blog.example/{n}</link>
            <guid isPermaLink="false">blog-{n}</guid><pubDate>Thu, 19 Nov 2026 0{n}:00:00 GMT</pubDate>
            <dc:creator>Jane Blogger</dc:creator>
            <description>&lt;p&gt;Body {n} about &lt;b&gt;IMS&lt;/b&gt;&lt;/p&gt;</description>
            <enclosure url="https://blog.example/{n}.jpg" length="1" type="image/jpeg"/></item>"""
            for n, title in reversed(self.blog_items))
        xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Jane's blog</title>
<link>https://blog.example/</link><description>d</description><language>en-gb</language>{items}</channel></rss>"""
        return web.Response(text=xml, content_type="application/rss+xml", headers={"ETag": etag})

    async def atom(self, request: web.Request) -> web.Response:
        page = int(request.query.get("page", "1"))
        entries = {1: [5, 4], 2: [3, 2], 3: [1]}[page]
        nxt = f'<link rel="next" href="{request.url.with_query(page=str(page + 1))}"/>' if page < 3 else ""
        body = "".join(f"""<entry><id>tag:forum.example,2026:comment-{n}</id><title>Comment {n}</title>
            <link href="https://forum.example/c/{n}"/><updated>2026-11-19T1{n}:00:00Z</updated>
            <author><name>poster{n}</name></author><content type="html">IMS comment {n}</content></entry>"""
                       for n in entries)
        xml = f"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Forum comments</title><id>tag:forum.example,2026:feed</id><updated>2026-11-19T15:00:00Z</updated>
{nxt}{body}</feed>"""
        return web.Response(text=xml, content_type="application/atom+xml")

    async def alerts(self, request: web.Request) -> web.Response:
        xml = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"
xmlns:idx="urn:atom-extension:indexing"><id>tag:google.com,2005:reader/user/0/state/com.google/alerts/1</id>
<title>Google Alert - "Incident Management Solutions"</title><updated>2026-11-19T12:00:00Z</updated>
<entry><id>tag:google.com,2013:googlealerts/feed:1234567890</id>
<title type="html">&lt;b&gt;Incident Management Solutions&lt;/b&gt; wins contract</title>
<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://news.example/story&amp;ct=ga&amp;cd=1&amp;usg=x"/>
<published>2026-11-19T12:00:00Z</published><updated>2026-11-19T12:00:00Z</updated>
<content type="html">Local firm &lt;b&gt;IMS&lt;/b&gt; ...</content><author><name></name></author></entry></feed>"""
        return web.Response(text=xml, content_type="application/atom+xml")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/blog/rss", self.blog)
        app.router.add_get("/comments.atom", self.atom)
        app.router.add_get("/alerts/feeds/1/2", self.alerts)
        return app


def test_feeds_are_normalised_paged_and_not_re_emitted(tmp_path: Path) -> None:
    api = FakeFeeds()
    with LocalServer(api.app()) as server:
        def source() -> RssCollector:
            made = make_source(RssCollector, base_url=None, name="feeds", network="blog", feeds=[
                f"{server.url}/blog/rss",
                {"url": f"{server.url}/comments.atom", "network": "forum"},
                {"url": f"{server.url}/alerts/feeds/1/2", "network": "news_comment"}])
            assert isinstance(made, RssCollector)
            return made

        first, health = run_once(source(), store=sqlite_store(tmp_path))
        api.blog_items.append((3, "IMS third post"))
        api.blog_items.append((0, "IMS backdated post, published late"))  # dated before everything collected
        second, _ = run_once(source(), store=sqlite_store(tmp_path))
        third, _ = run_once(source(), store=sqlite_store(tmp_path))
        blog_calls = server.paths("/blog/rss")
    by_id = {m["source_id"]: m for m in first}
    assert [m["source_id"] for m in first] == [
        "blog-2", "blog-1", *(f"tag:forum.example,2026:comment-{n}" for n in (5, 4, 3, 2, 1)),
        "tag:google.com,2013:googlealerts/feed:1234567890"]
    blog = by_id["blog-1"]
    assert blog["source"] == "blog" and blog["text"] == "IMS at the expo\n\nBody 1 about IMS"
    assert blog["author"]["handle"] == "Jane Blogger" and blog["lang"] == "en-gb"
    assert blog["created_at"] == "2026-11-19T01:00:00.000000Z" and blog["url"] == "https://blog.example/1"
    assert blog["media_urls"] == ["https://blog.example/1.jpg"]
    comment = by_id["tag:forum.example,2026:comment-5"]
    assert comment["source"] == "forum" and comment["author"]["handle"] == "poster5"
    alert = by_id["tag:google.com,2013:googlealerts/feed:1234567890"]
    assert alert["source"] == "news_comment" and alert["url"] == "https://news.example/story"
    assert alert["text"] == "Incident Management Solutions wins contract\n\nLocal firm IMS ..."
    assert health["pages"] == 5  # blog, three Atom pages, alerts
    assert [m["source_id"] for m in second] == ["blog-0", "blog-3"]  # in feed order
    assert third == []
    assert blog_calls[-1].headers.get("If-None-Match") == '"v4"'  # 304 on the last poll


def test_unwrap_google_link() -> None:
    assert unwrap_google_link("https://www.google.com/url?rct=j&url=https://a.example/x&ct=ga") == "https://a.example/x"
    assert unwrap_google_link("https://a.example/y") == "https://a.example/y"


def test_429_retry_after_http_date_is_honoured() -> None:
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    api = FakeFeeds()
    with LocalServer(api.app()) as server:
        server.throttle(1, body={}, headers=lambda: {
            "Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)})
        source = make_source(RssCollector, base_url=None, name="feeds", network="blog", feeds=[f"{server.url}/blog/rss"])
        mentions, health = run_once(source)
        assert server.gap_after_429() >= 1.0
    assert [m["source_id"] for m in mentions] == ["blog-2", "blog-1"] and health["rate_limited"] == 1

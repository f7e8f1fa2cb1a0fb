"""Who may do what: every route for anonymous, viewer, reviewer and admin; CSRF; sessions; sign-in throttling."""

from __future__ import annotations

from contextlib import closing
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from pipeline.dashboard import api, pages
from pipeline.dashboard.app import create_app
from pipeline.dashboard.auth import create_user, set_user_disabled
from pipeline.dashboard.models import Role
from pipeline.search.client import create_async_client
from tests.dashboard.conftest import (
    PASSWORD,
    LiveDashboard,
    csrf_of,
    flagged_item,
    index_items,
    login_form_token,
    run_async,
    sign_in,
)

pytestmark = pytest.mark.integration

SECRET_TEXT = "zqxsecret personal data of an employee"
EVIL = "http://evil.example"

# (method, path, least role). Public routes are listed with None.
ROUTES: list[tuple[str, str, str | None]] = [
    ("GET", "/", "viewer"),
    ("GET", "/search", "viewer"),
    ("GET", "/items/{id}", "viewer"),
    ("GET", "/audit", "admin"),
    ("GET", "/users", "admin"),
    ("POST", "/logout", "viewer"),
    ("GET", "/api-docs", "viewer"),
    ("GET", "/api/me", "viewer"),
    ("GET", "/api/search", "viewer"),
    ("GET", "/api/items/{id}", "viewer"),
    ("PATCH", "/api/items/{id}/review", "reviewer"),
    ("POST", "/api/items/bulk-dismiss", "reviewer"),
    ("GET", "/api/export.csv", "reviewer"),
    ("GET", "/api/overview", "viewer"),
    ("GET", "/api/audit", "admin"),
    ("GET", "/api/users", "admin"),
    ("GET", "/api/openapi.json", "viewer"),
    ("GET", "/login", None),
    ("POST", "/login", None),
    ("GET", "/healthz", None),
]
ROLE_ORDER = ["viewer", "reviewer", "admin"]


def test_the_matrix_covers_every_route() -> None:
    declared = set()
    for router in (api.router, pages.router):
        for route in router.routes:
            for method in route.methods - {"HEAD"}:
                declared.add((method, route.path.replace("{item_id:path}", "{id}")))
    declared.add(("GET", "/healthz"))
    assert declared == {(m, p) for m, p, _ in ROUTES}


@pytest.fixture(scope="module")
def secret_item(dashboard: LiveDashboard) -> str:
    item = flagged_item(SECRET_TEXT, source_id="access-1")
    index_items(dashboard.settings, [item])
    return item.mention_id


def call(client: httpx.Client, method: str, path: str, item_id: str) -> httpx.Response:
    url = path.replace("{id}", quote(item_id, safe=""))
    headers = {}
    body = None
    if method in ("POST", "PATCH") and path != "/login":
        try:
            headers["X-CSRF-Token"] = csrf_of(client)
        except Exception:  # noqa: BLE001 - anonymous: no token to send
            pass
    if path == "/api/items/{id}/review":
        version = client.get(f"/api/items/{quote(item_id, safe='')}")
        body = {"version": version.json()["version"] if version.status_code == 200 else "1.1.0", "note": "checked"}
    elif path == "/api/items/bulk-dismiss":
        body = {"items": {}}
    if path == "/api/search" or path == "/search":
        url += "?q=zqxsecret"
    return client.request(method, url, json=body, headers=headers)


@pytest.mark.parametrize("role", [None, *ROLE_ORDER])
@pytest.mark.parametrize("method, path, least", [r for r in ROUTES if r[2] is not None])
def test_route_access(dashboard: LiveDashboard, secret_item: str, role: str | None, method: str, path: str,
                      least: str) -> None:
    with closing(dashboard.client(role)) as client:
        response = call(client, method, path, secret_item)
        if role is None:
            if path.startswith("/api/"):
                assert response.status_code == 401
            elif method == "GET":
                assert response.status_code == 303
                assert response.headers["location"].startswith("/login?next=")
            else:
                assert response.status_code in (401, 403)
            assert "zqxsecret" not in response.text
        elif ROLE_ORDER.index(role) < ROLE_ORDER.index(least):
            assert response.status_code == 403, response.text[:300]
            assert "zqxsecret" not in response.text
        else:
            assert response.status_code in (200, 303), response.text[:300]
            if method == "GET" and path in ("/search", "/api/search", "/items/{id}", "/api/items/{id}"):
                assert "zqxsecret" in response.text


def test_static_assets_and_health_are_public_but_hold_no_data(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client()) as anonymous:
        assert anonymous.get("/static/app.js").status_code == 200
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/docs").status_code == 404  # no Swagger UI (it would load a CDN)
        assert anonymous.get("/openapi.json").status_code in (303, 404)


def test_forged_cross_site_requests_are_refused(dashboard: LiveDashboard, secret_item: str) -> None:
    with closing(dashboard.client("reviewer")) as reviewer:
        token = csrf_of(reviewer)
        version = reviewer.get(f"/api/items/{secret_item}").json()["version"]
        url = f"/api/items/{secret_item}/review"
        body = {"version": version, "status": "dismissed"}
        attempts = [
            {"Origin": EVIL},                                    # cross-site, no token
            {"Origin": EVIL, "X-CSRF-Token": token},             # cross-site with a stolen token
            {"X-CSRF-Token": "wrong"},                           # same site, wrong token
            {},                                                  # same site, no token
            {"Origin": "null", "X-CSRF-Token": token},           # sandboxed frame
        ]
        for headers in attempts:
            response = reviewer.patch(url, json=body, headers=headers)
            assert response.status_code == 403, headers
            assert response.json()["error"] == "csrf_rejected"
        no_origin = httpx.Client(base_url=dashboard.url, cookies=reviewer.cookies)
        assert no_origin.patch(url, json=body, headers={"X-CSRF-Token": token}).status_code == 403
        forged_form = reviewer.post("/logout", data={"csrf_token": "guess"}, headers={"Origin": EVIL})
        assert forged_form.status_code == 403
        assert reviewer.get("/api/me").status_code == 200  # still signed in
        assert reviewer.get(f"/api/items/{secret_item}").json()["review"]["status"] == "new"
        # a Referer from this site stands in for a missing Origin
        referer_only = httpx.Client(base_url=dashboard.url, cookies=reviewer.cookies,
                                    headers={"Referer": dashboard.url + "/items/x"})
        assert referer_only.patch(url, json={"version": version, "note": "ok"},
                                  headers={"X-CSRF-Token": token}).status_code == 200
    with closing(dashboard.client("admin")) as admin:
        entries = admin.get("/api/audit", params={"action": "csrf_rejected", "actor": "reviewer"}).json()["entries"]
        assert len(entries) >= len(attempts)


def test_the_api_refuses_cross_site_browser_calls(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client("reviewer")) as reviewer:
        for site in ("cross-site", "same-site"):
            response = reviewer.get("/api/export.csv", headers={"Sec-Fetch-Site": site})
            assert response.status_code == 403 and response.json()["error"] == "csrf_rejected"
        assert reviewer.get("/api/export.csv", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 200
        assert reviewer.get("/api/export.csv", headers={"Sec-Fetch-Site": "none"}).status_code == 200
        # shared links to pages keep working from anywhere
        assert reviewer.get("/search?q=x", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_sign_in_form_is_csrf_protected(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client()) as client:
        response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": "x"})
        assert response.status_code == 403
        token = login_form_token(client)
        response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
                               headers={"Origin": EVIL})
        assert response.status_code == 403
        assert not any("ims_session=" in c for c in response.headers.get_list("set-cookie"))


def test_session_cookie_flags_and_security_headers(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client()) as client:
        response = sign_in(client, username="viewer", password=PASSWORD)
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("ims_session="))
        attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "path", "samesite"} <= attributes and "secure" not in attributes  # plain http here
        assert "samesite=lax" in cookie.lower()
        for path in ("/", "/search", "/api/search"):
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
            assert headers["cache-control"] == "no-store"
            assert headers["x-frame-options"] == "DENY"


def test_cookies_are_secure_and_host_bound_under_tls(dash_settings, es_client) -> None:
    secure = dash_settings.model_copy(update={"dashboard": dash_settings.dashboard.model_copy(
        update={"cookie_secure": True, "base_url": "https://hr.example"})})
    with TestClient(create_app(secure), base_url="https://hr.example") as client:
        page = client.get("/login")
        assert "__Host-ims_login=" in page.headers["set-cookie"] and "Secure" in page.headers["set-cookie"]
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
                               headers={"Origin": "https://hr.example"}, follow_redirects=False)
        assert response.status_code == 303
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-ims_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie and "Domain" not in cookie
        assert response.headers["strict-transport-security"].startswith("max-age=")


def test_sign_out_ends_the_session_for_good(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client("viewer")) as client:
        stolen = dict(client.cookies)
        assert client.post("/logout", data={"csrf_token": csrf_of(client)}).status_code == 303
        replay = httpx.Client(base_url=dashboard.url, cookies=stolen)
        assert replay.get("/api/me").status_code == 401
        tampered = httpx.Client(base_url=dashboard.url, cookies={"ims_session": stolen["ims_session"][:-2] + "xx"})
        assert tampered.get("/api/me").status_code == 401


def test_disabling_a_user_ends_their_sessions(dashboard: LiveDashboard) -> None:
    async def admin_action(disable: bool) -> None:
        client = create_async_client(dashboard.settings.elasticsearch)
        try:
            if not disable:
                await create_user(client, dashboard.indices, username="leaver", password=PASSWORD, role=Role.reviewer)
            else:
                await set_user_disabled(client, dashboard.indices, username="leaver", disabled=True)
        finally:
            await client.close()

    run_async(admin_action(False))
    with closing(dashboard.client("leaver")) as client:
        assert client.get("/api/me").json()["role"] == "reviewer"
        run_async(admin_action(True))
        assert client.get("/api/me").status_code == 401
    with closing(dashboard.client()) as client:
        token = login_form_token(client)
        again = client.post("/login", data={"username": "leaver", "password": PASSWORD, "csrf_token": token})
        assert again.status_code == 401


def test_failed_sign_ins_are_throttled(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client()) as client:
        for _ in range(dashboard.settings.dashboard.login_max_failures):
            token = login_form_token(client)
            wrong = client.post("/login", data={"username": "throttled", "password": "wrong password!",
                                                "csrf_token": token})
            assert wrong.status_code == 401
        token = login_form_token(client)
        locked = client.post("/login", data={"username": "throttled", "password": PASSWORD, "csrf_token": token})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
        assert "ims_session" not in client.cookies
    with closing(dashboard.client("admin")) as admin:
        actions = [e["action"] for e in admin.get("/api/audit", params={"actor": "throttled"}).json()["entries"]]
        assert actions.count("sign_in_failed") == dashboard.settings.dashboard.login_max_failures
        assert "sign_in_throttled" in actions


def test_openapi_documents_the_api(dashboard: LiveDashboard) -> None:
    with closing(dashboard.client("viewer")) as viewer:
        spec = viewer.get("/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/search", "/api/items/{item_id}", "/api/items/{item_id}/review", "/api/items/bulk-dismiss",
            "/api/export.csv", "/api/overview", "/api/audit"} <= set(spec["paths"])
    assert "ReviewUpdate" in spec["components"]["schemas"]
    with closing(dashboard.client("viewer")) as viewer:
        page = viewer.get("/api-docs").text
    assert "/api/items/{item_id}/review" in page and "ReviewUpdate" in page and "cdn" not in page.lower()


def test_expired_sessions_are_purged(dashboard: LiveDashboard) -> None:
    from pipeline.dashboard.auth import SessionManager

    async def scenario() -> tuple[int, bool]:
        client = create_async_client(dashboard.settings.elasticsearch)
        try:
            await client.index(index=dashboard.indices.sessions, id="old", document={
                "username": "viewer", "csrf_token": "x", "created_at": "2020-01-01T00:00:00Z",
                "last_seen_at": "2020-01-01T00:00:00Z", "expires_at": "2020-01-01T08:00:00Z"})
            manager = SessionManager(client, dashboard.indices, secret="s" * 40, config=dashboard.settings.dashboard)
            purged = await manager.purge_expired()
            return purged, bool(await client.exists(index=dashboard.indices.sessions, id="old"))
        finally:
            await client.close()

    purged, still_there = run_async(scenario())
    assert purged >= 1 and not still_there



def test_audit_page_filters_by_user_action_and_date(dashboard: LiveDashboard) -> None:
    import datetime as dt

    with closing(dashboard.client("admin")) as admin:
        before = dt.datetime.now(dt.UTC).date()
        admin.get("/search", params={"q": "zqxauditfilter"})
        after = dt.datetime.now(dt.UTC).date()  # the same day unless the search straddled midnight
        page = admin.get("/audit", params={"actor": "admin", "action": "search", "from": str(before),
                                           "to": str(after)}).text
        assert "zqxauditfilter" in page
        old = admin.get("/audit", params={"actor": "admin", "from": "2020-01-01", "to": "2020-01-02"}).text
        assert "0 entries" in old


def test_elasticsearch_going_away_is_a_503_not_a_stack_trace(dash_settings) -> None:
    from elasticsearch import AsyncElasticsearch

    from tests.dashboard.conftest import free_port

    with TestClient(create_app(dash_settings), base_url="http://testserver") as client:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token},
                    headers={"Origin": "http://testserver"}, follow_redirects=False)
        assert client.get("/api/me").status_code == 200
        live = client.app.state.es
        client.app.state.es = AsyncElasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=2,
                                                 max_retries=0)
        client.app.state.sessions.client = client.app.state.es
        try:
            response = client.get("/api/search")
            assert response.status_code == 503 and response.json()["error"] == "unavailable"
            page = client.get("/search")
            assert page.status_code == 503 and "unavailable" in page.text and "Traceback" not in page.text
        finally:
            client.portal.call(client.app.state.es.close)
            client.app.state.es = live
            client.app.state.sessions.client = live

"""``create_app(settings)``: the dashboard as an ASGI application (FastAPI).

Run it with ``ims-monitor dashboard`` (uvicorn on ``IMS_DASHBOARD__HOST``:``IMS_DASHBOARD__PORT``), or
embed it::

    app = create_app(load_settings())
    uvicorn.run(app, host="127.0.0.1", port=8080)

The Elasticsearch client is created when the app starts (on the server's event loop) unless one is passed
in; the users, sessions and audit indices are created if missing. Errors raised by services become HTTP
answers here and only here: JSON under ``/api``, a page (or a redirect to sign-in) elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from elasticsearch import AsyncElasticsearch
from elasticsearch import ConnectionError as ElasticsearchConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from pipeline.dashboard import api, pages
from pipeline.dashboard.auth import LoginThrottle, SessionManager, load_or_create_session_secret
from pipeline.dashboard.errors import (
    CsrfRejected,
    DashboardError,
    EditConflict,
    InvalidTransition,
    ItemNotFound,
    LoginThrottled,
    NotAuthenticated,
    PermissionDenied,
)
from pipeline.dashboard.indices import DashboardIndices, ensure_dashboard_indices
from pipeline.dashboard.security import SecurityHeadersMiddleware, optional_principal
from pipeline.search.client import create_async_client
from pipeline.settings import Settings

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parent / "static"

_STATUS = {NotAuthenticated: 401, PermissionDenied: 403, CsrfRejected: 403, LoginThrottled: 429, ItemNotFound: 404,
           EditConflict: 409, InvalidTransition: 422}
_CODES = {NotAuthenticated: "not_authenticated", PermissionDenied: "forbidden", CsrfRejected: "csrf_rejected",
          LoginThrottled: "throttled", ItemNotFound: "not_found", EditConflict: "conflict",
          InvalidTransition: "invalid_transition"}


def cookie_secure(settings: Settings) -> bool:
    config = settings.dashboard
    if config.cookie_secure is not None:
        return config.cookie_secure
    return bool(config.tls_certfile) or (config.base_url or "").lower().startswith("https://")


def create_app(settings: Settings, *, es_client: AsyncElasticsearch | None = None,
               session_secret: str | None = None) -> FastAPI:
    """The dashboard for these settings. ``es_client``: reuse a client (the caller closes it)."""
    indices = DashboardIndices.from_settings(settings.elasticsearch)
    secret = session_secret or load_or_create_session_secret(settings)
    secure = cookie_secure(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = es_client or create_async_client(settings.elasticsearch)
        app.state.es = client
        app.state.sessions = SessionManager(client, indices, secret=secret, config=settings.dashboard)
        await ensure_dashboard_indices(client, indices)
        purged = await app.state.sessions.purge_expired()
        log.info("dashboard ready (indices %s, %s, %s; %d expired sessions removed)", indices.users,
                 indices.sessions, indices.audit, purged)
        try:
            yield
        finally:
            if es_client is None:
                await client.close()

    app = FastAPI(title="IMS social-media policy review", version="1.0",
                  description="The JSON API of the HR review dashboard. Sign in through /login; send the "
                              "session's CSRF token (GET /api/me) as X-CSRF-Token on every change.",
                  lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.config = settings.dashboard
    app.state.indices = indices
    app.state.cookie_secure = secure
    app.state.templates = pages.make_templates()
    app.state.throttle = LoginThrottle(max_failures=settings.dashboard.login_max_failures,
                                       max_failures_per_ip=settings.dashboard.login_max_failures_per_ip,
                                       window_s=settings.dashboard.login_window_s)
    app.add_middleware(SecurityHeadersMiddleware, hsts=secure)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(DashboardError)
    async def dashboard_error(request: Request, exc: DashboardError) -> Response:
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
        is_api = request.url.path.startswith("/api/")
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LoginThrottled) else None
        if is_api:
            body: dict[str, object] = {"error": _CODES.get(type(exc), "error"), "message": str(exc)}
            if isinstance(exc, EditConflict):
                body["current"] = exc.current
            return JSONResponse(body, status_code=status, headers=headers)
        if isinstance(exc, NotAuthenticated):
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        principal = await optional_principal(request) if not isinstance(exc, NotAuthenticated) else None
        return pages.page(request, "error.html", principal, status_code=status, status=status, message=str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path.startswith("/static/"):
            return JSONResponse({"error": "http_error", "message": str(exc.detail)}, status_code=exc.status_code)
        principal = await optional_principal(request)
        message = "Not found" if exc.status_code == 404 else str(exc.detail)
        return pages.page(request, "error.html", principal, status_code=exc.status_code, status=exc.status_code,
                          message=message)

    @app.exception_handler(ElasticsearchConnectionError)
    async def search_unavailable(request: Request, exc: ElasticsearchConnectionError) -> Response:
        log.error("Elasticsearch unreachable: %s", exc)
        message = "The search service is unavailable; try again in a minute."
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "unavailable", "message": message}, status_code=503)
        return pages.page(request, "error.html", None, status_code=503, status=503, message=message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        if await optional_principal(request) is None:  # never tell an anonymous caller about the API's shape
            return JSONResponse({"error": "not_authenticated", "message": "sign in first"}, status_code=401)
        return JSONResponse({"error": "invalid_request", "detail": jsonable_errors(exc)}, status_code=422)

    return app


def jsonable_errors(exc: RequestValidationError) -> list[dict[str, object]]:
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))} for e in exc.errors()]

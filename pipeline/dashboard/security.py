"""Request plumbing shared by the API and the pages: who is asking, may they, and did they mean to.

- :func:`current_principal` / :func:`require` — the session's user, or NotAuthenticated / PermissionDenied;
- :func:`csrf_protected` — on every POST/PUT/PATCH/DELETE: the Origin (or Referer) must be this site and
  the session's CSRF token must come back (``X-CSRF-Token`` header or ``csrf_token`` form field);
  and a browser's cross-site call of any ``/api/`` route (``Sec-Fetch-Site``) is refused, so another site
  cannot make a reviewer's browser start an export;
- :class:`SecurityHeadersMiddleware` — a strict Content-Security-Policy (scripts and styles only from this
  app, nothing inline, no framing), nosniff, Referrer-Policy, and ``no-store`` for everything but assets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.dashboard.audit import record_event
from pipeline.dashboard.auth import check_csrf_token
from pipeline.dashboard.errors import CsrfRejected, NotAuthenticated, PermissionDenied
from pipeline.dashboard.models import Principal, Role

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    "connect-src 'self'", "font-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'",
])


def session_cookie_name(secure: bool) -> str:
    """``__Host-`` cookies must be Secure, host-only and Path=/: browsers refuse them otherwise."""
    return "__Host-ims_session" if secure else "ims_session"


def login_cookie_name(secure: bool) -> str:
    return "__Host-ims_login" if secure else "ims_login"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def optional_principal(request: Request) -> Principal | None:
    state = request.app.state
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = await state.sessions.load(request.cookies.get(session_cookie_name(state.cookie_secure)))
    request.state.principal = principal
    return principal


async def current_principal(request: Request) -> Principal:
    principal = await optional_principal(request)
    if principal is None:
        raise NotAuthenticated("sign in first")
    if request.url.path.startswith("/api/") and request.headers.get("sec-fetch-site", "none") not in (
            "same-origin", "none"):
        # Another site's page made the browser call the API (a link to the CSV export, an <img>, a form).
        # The pages call it from this origin; a person typing the URL sends "none". Pages themselves stay
        # reachable from links elsewhere (shared search URLs).
        await audit(request, principal, "csrf_rejected", target=request.url.path, outcome="denied",
                    details={"reason": "cross-site API request", "origin": request.headers.get("origin"),
                             "sec_fetch_site": request.headers.get("sec-fetch-site")})
        raise CsrfRejected("the API answers only this site's pages")
    return principal


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the signed-in user, who must hold ``role`` or a higher one (else 403, audited)."""

    async def dependency(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            await audit(request, principal, "access_denied", target=request.url.path, outcome="denied",
                        details={"needs": role.value, "method": request.method})
            raise PermissionDenied(f"this needs the {role.value} role")
        return principal

    return dependency


def allowed_origins(request: Request) -> set[str]:
    origins = {f"{request.url.scheme}://{request.headers.get('host', '')}"}
    base_url = request.app.state.config.base_url
    if base_url:
        parts = urlsplit(base_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    return origins


def check_origin(request: Request) -> None:
    """A state-changing request must say it comes from this site (Origin, or else Referer)."""
    origin = request.headers.get("origin")
    if origin is None and (referer := request.headers.get("referer")):
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if not origin or origin == "null" or origin not in allowed_origins(request):
        raise CsrfRejected("cross-site request refused")


async def csrf_protected(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Dependency for every state-changing route of a signed-in user."""
    try:
        check_origin(request)
        token = request.headers.get(CSRF_HEADER)
        if token is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")):
            token = str((await request.form()).get(CSRF_FIELD) or "")
        if not check_csrf_token(principal, token):
            raise CsrfRejected("missing or wrong CSRF token; reload the page")
    except CsrfRejected as exc:
        await audit(request, principal, "csrf_rejected", target=request.url.path, outcome="denied",
                    details={"reason": str(exc), "origin": request.headers.get("origin")})
        raise
    return principal


async def audit(request: Request, principal: Principal | None, action: str, *, target: str | None = None,
                outcome: str = "ok", details: dict[str, Any] | None = None, actor: str | None = None) -> None:
    state = request.app.state
    await record_event(
        state.es, state.indices, actor=actor or (principal.username if principal else "anonymous"),
        role=principal.role.value if principal else None, action=action, target=target, outcome=outcome,
        ip=client_ip(request), user_agent=request.headers.get("user-agent"), details=details,
    )


# Route parameter types: ``principal: Viewer`` means "signed in, any role"; ``CsrfChecked`` on every change.
Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Reviewer = Annotated[Principal, Depends(require(Role.reviewer))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
CsrfChecked = Annotated[Principal, Depends(csrf_protected)]


class SecurityHeadersMiddleware:
    """Adds the security headers to every response (pure ASGI, so streaming responses stay streamed)."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                           or not is_static]
                names = {k.lower() for k, _ in headers}
                extra = {
                    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"same-origin",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"cross-origin-resource-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=(), interest-cohort=()",
                    b"cache-control": b"public, max-age=300" if is_static else b"no-store",
                }
                if self.hsts:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                headers += [(k, v) for k, v in extra.items() if k not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

"""The HTML pages: server-rendered with Jinja2 (autoescaped), one small local script for the review actions.

Everything a stranger wrote (text, author, URLs, media links) is escaped; invisible and direction-changing
characters are shown as visible markers (``⟦U+202E⟧``) so nothing can disguise itself; a link is a link only
when it is http(s), and opens with ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from pipeline.dashboard import items as item_service
from pipeline.dashboard.api import Params
from pipeline.dashboard.audit import ACTIONS, browse_audit
from pipeline.dashboard.auth import authenticate, list_users
from pipeline.dashboard.errors import CsrfRejected, LoginThrottled
from pipeline.dashboard.models import TRANSITIONS, HighlightSegment, Principal, ReviewStatus, Role, SearchParams
from pipeline.dashboard.overview import LABEL_COLOURS, PERIODS, chart_svg, overview_data, period_days
from pipeline.dashboard.search import search_items
from pipeline.dashboard.security import (
    Admin,
    CsrfChecked,
    Viewer,
    audit,
    check_origin,
    client_ip,
    login_cookie_name,
    optional_principal,
    session_cookie_name,
)
from schemas.records import POLICY_LABELS

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
router = APIRouter(include_in_schema=False)

# Characters that change text direction or hide themselves: shown as visible markers, never obeyed.
_HIDDEN_CHARS = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad]")
_SAFE_URL = re.compile(r"^https?://[^\s<>\"'`\x00-\x1f\x7f]+$", re.IGNORECASE)


def reveal(value: Any) -> Markup:
    """Escape ``value`` and make hidden and bidi-control characters visible as ``⟦U+XXXX⟧`` markers."""
    text = str(escape("" if value is None else value))

    def marker(match: re.Match[str]) -> str:
        ch = match.group(0)
        name = unicodedata.name(ch, "CONTROL CHARACTER")
        return f'<span class="ctl" title="{escape(name)}">⟦U+{ord(ch):04X}⟧</span>'

    return Markup(_HIDDEN_CHARS.sub(marker, text))


def safe_url(value: Any) -> str | None:
    """``value`` when it is an http(s) URL without whitespace or control characters, else None."""
    if not isinstance(value, str) or len(value) > 4000:
        return None
    return value if _SAFE_URL.match(value) else None


def render_segments(segments: list[HighlightSegment]) -> Markup:
    out = []
    for seg in segments:
        text = reveal(seg.text)
        out.append(Markup("<mark>{}</mark>").format(text) if seg.hit else text)
    return Markup("").join(out)


def fmt_time(value: Any) -> str:
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def item_path(item_id: str) -> str:
    return "/items/" + quote(item_id, safe="")


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.autoescape = True
    env.filters.update(reveal=reveal, safe_url=safe_url, segments=render_segments, time=fmt_time,
                       item_path=item_path, urlquote=lambda v: quote(str(v), safe=""))
    env.globals.update(POLICY_LABELS=POLICY_LABELS, ReviewStatus=ReviewStatus, Role=Role, urlencode=urlencode)
    return templates


def page(request: Request, template: str, principal: Principal | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, template, {"principal": principal, **context},
                                      status_code=status_code)


def safe_next(value: str | None) -> str:
    """Only a local path may be a redirect target after sign-in (no //host, no backslashes, no schemes)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or any(
            ord(c) < 32 for c in value):
        return "/"
    return value


# ---------------------------------------------------------------------------------------------- sign-in
def _login_form(request: Request, *, next_path: str, error: str | None = None, status_code: int = 200,
                username: str = "") -> HTMLResponse:
    state = request.app.state
    cookie, form_token = state.sessions.new_login_csrf()
    response = page(request, "login.html", None, status_code=status_code, next_path=next_path, error=error,
                    login_csrf=form_token, username=username)
    response.set_cookie(login_cookie_name(state.cookie_secure), cookie, max_age=3600, httponly=True,
                        secure=state.cookie_secure, samesite="strict", path="/")
    return response


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    if await optional_principal(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_path=safe_next(next))


@router.post("/login")
async def login(request: Request, username: str = Form("", max_length=200), password: str = Form("", max_length=1000),
                csrf_token: str = Form(""), next: str = Form("/")) -> Response:
    state = request.app.state
    ip = client_ip(request)
    next_path = safe_next(next)
    check_origin(request)
    if not state.sessions.check_login_csrf(cookie=request.cookies.get(login_cookie_name(state.cookie_secure)),
                                           form_value=csrf_token):
        raise CsrfRejected("the sign-in form expired; reload it and try again")
    name = username.strip().lower()[:64]
    try:
        state.throttle.check(username=name, ip=ip)
    except LoginThrottled as exc:
        await audit(request, None, "sign_in_throttled", actor=name or "anonymous", outcome="denied",
                    details={"retry_after": exc.retry_after})
        response = _login_form(request, next_path=next_path, status_code=429, username=name,
                               error="Too many failed sign-ins. Try again later.")
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    user = await authenticate(state.es, state.indices, username=name, password=password)
    if user is None:
        state.throttle.record_failure(username=name, ip=ip)
        await audit(request, None, "sign_in_failed", actor=name or "anonymous", outcome="denied")
        return _login_form(request, next_path=next_path, status_code=401, username=name,
                           error="Wrong user name or password, or the account is disabled.")
    state.throttle.record_success(username=name, ip=ip)
    cookie = await state.sessions.create(username=user["username"], ip=ip, user_agent=request.headers.get("user-agent"))
    await audit(request, None, "sign_in", actor=user["username"], details={"role": user["role"]})
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(session_cookie_name(state.cookie_secure), cookie, httponly=True, secure=state.cookie_secure,
                        samesite="lax", path="/", max_age=state.config.session_ttl_s)
    response.delete_cookie(login_cookie_name(state.cookie_secure), path="/", secure=state.cookie_secure,
                           httponly=True, samesite="strict")
    return response


@router.post("/logout")
async def logout(request: Request, principal: CsrfChecked) -> Response:
    state = request.app.state
    await state.sessions.end(principal)
    await audit(request, principal, "sign_out")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(state.cookie_secure), path="/", secure=state.cookie_secure,
                           httponly=True, samesite="lax")
    return response


# ------------------------------------------------------------------------------------------------ pages
@router.get("/")
async def overview_page(request: Request, principal: Viewer, period: str | None = None) -> Response:
    state = request.app.state
    key, days = period_days(period)
    data = await overview_data(state.es, index=state.indices.flagged, days=days)
    charts = {
        "label": chart_svg(data["by_label"], keys=data["label_keys"], title="Flagged items by label",
                           colours=LABEL_COLOURS),
        "source": chart_svg(data["by_source"], keys=data["source_keys"], title="Flagged items by source"),
    }
    return page(request, "overview.html", principal, data=data, charts=charts, period=key, periods=list(PERIODS))


@router.get("/search")
async def search_page(request: Request, params: Params,
                      principal: Viewer) -> Response:
    state = request.app.state
    result = await search_items(state.es, index=state.indices.flagged, params=params)
    await audit(request, principal, "search", details={"query": params.to_query(), "q": params.q,
                                                      "total": result.total})
    return page(request, "search.html", principal, result=result, params=params)


@router.get("/items/{item_id:path}")
async def item_page(request: Request, item_id: str, principal: Viewer) -> Response:
    state = request.app.state
    item = await item_service.get_item(state.es, state.indices, item_id=item_id)
    await audit(request, principal, "item_view", target=item_id)
    reviewers: list[str] = []
    if principal.role.allows(Role.reviewer):
        reviewers = [u.username for u in await list_users(state.es, state.indices)
                     if not u.disabled and u.role.allows(Role.reviewer)]
    status = item["review"]["status"]
    next_statuses = sorted(TRANSITIONS.get(ReviewStatus(status), frozenset()), key=list(ReviewStatus).index) \
        if status in ReviewStatus.__members__ else []
    return page(request, "item.html", principal, item=item, reviewers=reviewers, next_statuses=next_statuses)


@router.get("/audit")
async def audit_page(request: Request, principal: Admin, actor: str | None = None, action: str | None = None,
                     target: str | None = None, page_number: int = 1) -> Response:
    state = request.app.state
    actor, action, target = (v.strip() if v else None for v in (actor, action, target))
    params = SearchParams.parse(request.query_params)  # the same lenient date parsing as the search
    total, entries = await browse_audit(state.es, state.indices, actor=actor or None, action=action or None,
                                        target=target or None, date_from=params.date_from, date_to=params.date_to,
                                        page=max(1, page_number), size=50)
    await audit(request, principal, "audit_view", details={"actor": actor, "action": action, "target": target,
                                                          "from": str(params.date_from or ""),
                                                          "to": str(params.date_to or "")})
    filters = {k: v for k, v in (("actor", actor), ("action", action), ("target", target),
                                 ("from", params.date_from), ("to", params.date_to)) if v}
    return page(request, "audit.html", principal, total=total, entries=entries, filters=filters, actions=ACTIONS,
                page_number=max(1, page_number), pages=max(1, -(-min(total, 10_000) // 50)))


@router.get("/users")
async def users_page(request: Request, principal: Admin) -> Response:
    state = request.app.state
    await audit(request, principal, "user_list")
    return page(request, "users.html", principal, users=await list_users(state.es, state.indices))


@router.get("/api-docs")
async def api_docs_page(request: Request, principal: Viewer) -> Response:
    """The OpenAPI document as a page (Swagger UI would need a CDN; this is drawn from the same document)."""
    spec = request.app.openapi()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
            operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                               "parameters": op.get("parameters", []),
                               "body": (body or {}).get("$ref", "").rsplit("/", 1)[-1]})
    return page(request, "api_docs.html", principal, spec=spec, operations=operations)

"""The JSON API under ``/api`` (OpenAPI document at ``/api/openapi.json``); the pages use it for every change.

Every route needs a session (cookie from the sign-in page); state-changing routes also need the session's
CSRF token in ``X-CSRF-Token`` and an ``Origin`` of this site. Views are thin: they check, call a service,
audit, and answer; errors become HTTP responses in ``app.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from pipeline.dashboard import items as item_service
from pipeline.dashboard.audit import browse_audit
from pipeline.dashboard.auth import list_users
from pipeline.dashboard.export import csv_chunks
from pipeline.dashboard.models import (
    AuditEntry,
    BulkDismiss,
    BulkResult,
    ReviewUpdate,
    SearchPage,
    SearchParams,
    UserOut,
)
from pipeline.dashboard.overview import overview_data, period_days
from pipeline.dashboard.search import iter_matching, search_items
from pipeline.dashboard.security import Admin, CsrfChecked, Reviewer, Viewer, audit

router = APIRouter(prefix="/api", tags=["api"])


def search_params(
    request: Request,
    q: Annotated[str, Query(description='simple_query_string syntax: words, "phrase", -not, a | b, prefix*')] = "",
    label: Annotated[list[str] | None, Query(description="policy label (repeatable, any of)")] = None,
    source: Annotated[list[str] | None, Query(description="source network (repeatable, any of)")] = None,
    status: Annotated[list[str] | None, Query(description="review status (repeatable, any of)")] = None,
    risk_min: Annotated[str | None, Query(description="0-100")] = None,
    risk_max: Annotated[str | None, Query(description="0-100")] = None,
    employee: Annotated[str | None, Query(description="'yes' or 'no'")] = None,
    from_: Annotated[str | None, Query(alias="from", description="created on or after, YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="created on or before, YYYY-MM-DD")] = None,
    author: Annotated[str | None, Query(description="exact author handle")] = None,
    employee_id: str | None = None,
    assignee: Annotated[str | None, Query(description="exact assignee user name")] = None,
    sort: Annotated[str | None, Query(description="risk | newest | oldest | relevance")] = None,
    page: str | None = None,
    size: str | None = None,
) -> SearchParams:
    """The search in the URL (the parameters above are parsed leniently; documented here for OpenAPI)."""
    config = request.app.state.config
    return SearchParams.parse(request.query_params, default_size=config.page_size, max_size=config.max_page_size,
                              max_results=config.max_results)


Params = Annotated[SearchParams, Depends(search_params)]


def _search_details(params: SearchParams) -> dict[str, Any]:
    return {"query": params.to_query(), "q": params.q}


@router.get("/me", response_model=None, summary="The signed-in user and their CSRF token")
async def me(principal: Viewer) -> dict[str, Any]:
    return {"username": principal.username, "role": principal.role.value, "display_name": principal.display_name,
            "csrf_token": principal.csrf_token}


@router.get("/search", response_model=SearchPage, summary="Search flagged items (facets, highlights, paging)")
async def search(request: Request, params: Params,
                 principal: Viewer) -> SearchPage:
    state = request.app.state
    result = await search_items(state.es, index=state.indices.flagged, params=params)
    await audit(request, principal, "search", details={**_search_details(params), "total": result.total})
    return result


@router.patch("/items/{item_id:path}/review", summary="Change an item's review (409 when it changed since read)")
async def update_review(request: Request, item_id: str, update: ReviewUpdate,
                        principal: Reviewer,
                        _: CsrfChecked) -> dict[str, Any]:
    state = request.app.state
    before = await item_service.get_item(state.es, state.indices, item_id=item_id)
    item = await item_service.update_review(state.es, state.indices, item_id=item_id, update=update, actor=principal)
    changed_status = before["review"]["status"] != item["review"]["status"]
    await audit(request, principal, "status_change" if changed_status else "review_update", target=item_id,
                details={"from": before["review"]["status"], "to": item["review"]["status"],
                         "assignee": item["review"].get("assignee"), "note_added": bool(update.note)})
    return item


@router.post("/items/bulk-dismiss", response_model=BulkResult, summary="Dismiss many items at the versions listed")
async def bulk_dismiss(request: Request, body: BulkDismiss, principal: Reviewer,
                       _: CsrfChecked) -> BulkResult:
    state = request.app.state
    result = await item_service.bulk_dismiss(state.es, state.indices, request=body, actor=principal)
    await audit(request, principal, "bulk_dismiss", target=",".join(result.dismissed)[:1000],
                details=result.model_dump())
    return result


@router.get("/items/{item_id:path}", summary="One flagged item with its review history and version")
async def get_item(request: Request, item_id: str, principal: Viewer) -> dict[str, Any]:
    state = request.app.state
    item = await item_service.get_item(state.es, state.indices, item_id=item_id)
    await audit(request, principal, "item_view", target=item_id)
    return item


@router.get("/export.csv", summary="CSV of the current search (reviewer or admin)",
            response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}})
async def export_csv(request: Request, params: Params,
                     principal: Reviewer) -> StreamingResponse:
    state = request.app.state
    limit = state.config.export_max_rows
    await audit(request, principal, "export", details={**_search_details(params), "limit": limit})
    docs = iter_matching(state.es, index=state.indices.flagged, params=params, limit=limit)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(csv_chunks(docs), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="flagged-items-{stamp}.csv"'})


@router.get("/overview", summary="Flagged items over time by label and source; queue sizes")
async def overview(request: Request, principal: Viewer,
                   period: Annotated[str, Query(description="7 | 30 | 90 | 365 | all (days)")] = "all",
) -> dict[str, Any]:
    state = request.app.state
    _, days = period_days(period)
    return await overview_data(state.es, index=state.indices.flagged, days=days)


@router.get("/audit", summary="The audit log, newest first (admin)")
async def audit_log(request: Request, principal: Admin, actor: str | None = None, action: str | None = None,
                    target: str | None = None, from_: Annotated[dt.date | None, Query(alias="from")] = None,
                    to: dt.date | None = None, page: Annotated[int, Query(ge=1)] = 1,
                    size: Annotated[int, Query(ge=1, le=200)] = 50) -> dict[str, Any]:
    state = request.app.state
    total, entries = await browse_audit(state.es, state.indices, actor=actor, action=action, target=target,
                                        date_from=from_, date_to=to, page=page, size=size)
    await audit(request, principal, "audit_view", details={"actor": actor, "action": action, "target": target})
    return {"total": total, "entries": [AuditEntry.model_validate(e).model_dump() for e in entries]}


@router.get("/users", response_model=list[UserOut], summary="Dashboard users (admin)")
async def users(request: Request, principal: Admin) -> list[UserOut]:
    state = request.app.state
    await audit(request, principal, "user_list")
    return await list_users(state.es, state.indices)


@router.get("/openapi.json", include_in_schema=False)
async def openapi(request: Request, principal: Viewer) -> JSONResponse:
    return JSONResponse(request.app.openapi())

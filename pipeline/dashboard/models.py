"""Roles, review statuses and the shapes of the JSON API (pydantic models, no I/O)."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel, Field

from schemas.records import POLICY_LABELS


class Role(enum.StrEnum):
    """What a signed-in user may do; each role can do everything the ones before it can."""

    viewer = "viewer"        # search, read items, overview
    reviewer = "reviewer"    # + change review status, assign, add notes, bulk dismiss, export
    admin = "admin"          # + browse the audit log and the user list

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class ReviewStatus(enum.StrEnum):
    new = "new"
    in_review = "in_review"
    escalated = "escalated"
    actioned = "actioned"
    dismissed = "dismissed"

    @property
    def title(self) -> str:
        return self.value.replace("_", " ")


#: Allowed status changes: new -> in review -> escalated / actioned / dismissed; a closed item can be reopened.
TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    ReviewStatus.new: frozenset({ReviewStatus.in_review, ReviewStatus.dismissed}),
    ReviewStatus.in_review: frozenset({ReviewStatus.escalated, ReviewStatus.actioned, ReviewStatus.dismissed}),
    ReviewStatus.escalated: frozenset({ReviewStatus.in_review, ReviewStatus.actioned, ReviewStatus.dismissed}),
    ReviewStatus.actioned: frozenset({ReviewStatus.in_review}),
    ReviewStatus.dismissed: frozenset({ReviewStatus.in_review}),
}

SORTS = ("risk", "newest", "oldest", "relevance")
MAX_QUERY_CHARS = 500
MAX_FILTER_VALUES = 20


class Principal(BaseModel):
    """The signed-in user of one request."""

    username: str
    role: Role
    display_name: str | None = None
    session_id: str
    csrf_token: str


class UserOut(BaseModel):
    username: str
    role: Role
    display_name: str | None = None
    disabled: bool = False
    created_at: str | None = None
    last_login_at: str | None = None


class SearchParams(BaseModel):
    """A search as it appears in a shareable URL (``/search?q=...&label=harassment&sort=newest``)."""

    q: str = ""
    labels: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)
    statuses: list[str] = Field(default_factory=list)
    risk_min: int | None = None
    risk_max: int | None = None
    employee: str | None = Field(default=None, description="'yes': only employee-linked items; 'no': none")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    author: str | None = Field(default=None, description="exact author handle")
    employee_id: str | None = None
    assignee: str | None = Field(default=None, description="exact assignee user name")
    sort: str = "risk"
    page: int = 1
    size: int = 25

    @classmethod
    def parse(cls, query: Mapping[str, Any] | Iterable[tuple[str, str]], *, default_size: int = 25,
              max_size: int = 100, max_results: int = 10_000) -> SearchParams:
        """Lenient parsing of URL parameters: values that make no sense are dropped, numbers are clamped."""
        pairs = list(query.multi_items() if hasattr(query, "multi_items") else
                     (query.items() if isinstance(query, Mapping) else query))

        def all_of(name: str) -> list[str]:
            out: list[str] = []
            for key, value in pairs:
                if key == name and value and value not in out:
                    out.append(str(value).strip()[:100])
            return out[:MAX_FILTER_VALUES]

        def one(name: str) -> str | None:
            values = all_of(name)
            return values[0] if values else None

        def integer(name: str, lo: int, hi: int) -> int | None:
            raw = one(name)
            try:
                return max(lo, min(hi, int(raw))) if raw is not None else None
            except ValueError:
                return None

        def date(name: str) -> dt.date | None:
            raw = one(name)
            try:
                return dt.date.fromisoformat(raw) if raw else None
            except ValueError:
                return None

        q = next((str(v) for k, v in pairs if k == "q"), "")[:MAX_QUERY_CHARS].strip()
        default_sort = "relevance" if q else "risk"
        sort = one("sort") or default_sort
        size = integer("size", 1, max_size) or default_size
        page = integer("page", 1, 1_000_000) or 1
        page = min(page, max(1, max_results // size))
        employee = one("employee")
        return cls(
            q=q,
            labels=[v for v in all_of("label") if v in POLICY_LABELS],
            sources=all_of("source"),
            statuses=[v for v in all_of("status") if v in ReviewStatus.__members__],
            risk_min=integer("risk_min", 0, 100), risk_max=integer("risk_max", 0, 100),
            employee=employee if employee in ("yes", "no") else None,
            date_from=date("from"), date_to=date("to"), author=one("author"), employee_id=one("employee_id"),
            assignee=one("assignee"),
            sort=sort if sort in SORTS else default_sort, page=page, size=size,
        )

    def to_query(self, **changes: Any) -> str:
        """The URL query string of this search (with ``changes`` applied), for links and pagination."""
        data = self.model_copy(update=changes)
        pairs: list[tuple[str, str]] = []
        if data.q:
            pairs.append(("q", data.q))
        pairs += [("label", v) for v in data.labels] + [("source", v) for v in data.sources]
        pairs += [("status", v) for v in data.statuses]
        for key, value in (("risk_min", data.risk_min), ("risk_max", data.risk_max), ("employee", data.employee),
                           ("from", data.date_from), ("to", data.date_to), ("author", data.author),
                           ("employee_id", data.employee_id), ("assignee", data.assignee)):
            if value is not None:
                pairs.append((key, str(value)))
        if data.sort != ("relevance" if data.q else "risk"):
            pairs.append(("sort", data.sort))
        if data.page != 1:
            pairs.append(("page", str(data.page)))
        if data.size != 25:
            pairs.append(("size", str(data.size)))
        return urlencode(pairs)

    def toggled(self, field: str, value: str) -> str:
        """Query string with ``value`` added to or removed from the multi-valued ``field``; back to page 1."""
        current: list[str] = list(getattr(self, field))
        updated = [v for v in current if v != value] if value in current else current + [value]
        return self.to_query(**{field: updated, "page": 1})

    @property
    def is_filtered(self) -> bool:
        return bool(self.q or self.labels or self.sources or self.statuses or self.employee
                    or self.risk_min is not None or self.risk_max is not None or self.date_from or self.date_to
                    or self.author or self.employee_id or self.assignee)


class HighlightSegment(BaseModel):
    """A piece of highlighted text: ``hit`` pieces matched the query. Render as text, never as HTML."""

    text: str
    hit: bool = False


class SearchHit(BaseModel):
    id: str
    version: str
    source: str
    url: str | None = None
    text_preview: str = Field(description="the first characters of the text (GET /api/items/{id} has it all)")
    snippet: list[HighlightSegment]
    author_handle: str
    author_display_name: str | None = None
    author_is_employee: bool = False
    employee_id: str | None = None
    created_at: str | None = None
    labels: list[str] = Field(default_factory=list)
    risk: int = 0
    status: str = "new"
    assignee: str | None = None


class FacetBucket(BaseModel):
    value: str
    count: int
    selected: bool = False


class SearchPage(BaseModel):
    params: SearchParams
    total: int
    total_is_exact: bool = True
    hits: list[SearchHit]
    facets: dict[str, list[FacetBucket]]
    took_ms: int = 0

    @property
    def pages(self) -> int:
        return max(1, -(-min(self.total, 10_000) // self.params.size))


class ReviewUpdate(BaseModel):
    """A reviewer's change to one item. ``version`` is the one the reviewer saw (from GET /api/items/{id})."""

    version: str = Field(description="the item's version as read; a stale one gives 409")
    status: ReviewStatus | None = None
    assignee: str | None = Field(default=None, max_length=100,
                                 description="user name to assign; empty string unassigns; null leaves it")
    note: str | None = Field(default=None, max_length=5000, description="a note to append to the item's notes")


class BulkDismiss(BaseModel):
    """Dismiss many items from a result list: ``items`` maps id -> version as listed."""

    items: dict[str, str] = Field(max_length=500)
    note: str | None = Field(default=None, max_length=5000)


class BulkResult(BaseModel):
    dismissed: list[str]
    conflicts: list[str]
    not_found: list[str]
    invalid: list[str]


class AuditEntry(BaseModel):
    at: str
    actor: str
    role: str | None = None
    action: str
    target: str | None = None
    outcome: str = "ok"
    ip: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

"""Search over flagged items: full text, filters, facet counts, highlights, sorting, paging.

The query text goes to ``simple_query_string``, which has no syntax errors: whatever a reviewer types
(``"unbalanced``, ``a AND (``, ``*``), Elasticsearch answers instead of failing. Supported syntax:
``"phrase"``, ``-exclude``, ``a | b``, ``prefix*``, parentheses.

Facets (label, source, status, employee) are multi-select: each facet's counts apply every other facet's
selection but not its own (the selections themselves are a ``post_filter``), so the counts say how many
results choosing that value would give. Risk and date ranges narrow everything.

Example::

    page = await search_items(client, index="ims-flagged-items", params=SearchParams.parse({"q": "logo"}))
    page.total, [hit.id for hit in page.hits], page.facets["label"]
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator
from typing import Any

from elasticsearch import AsyncElasticsearch

from pipeline.dashboard.models import (
    FacetBucket,
    HighlightSegment,
    ReviewStatus,
    SearchHit,
    SearchPage,
    SearchParams,
)

TEXT_FIELDS = ["text^2", "text.exact", "author_handle.text^1.5", "author_display_name"]
PREVIEW_CHARS = 600
SNIPPET_CHARS = 300
FACET_SIZE = 50

# Highlight markers no stranger can guess: they are split out of the fragments before anything is rendered,
# so the only markup in a snippet is the <mark> the templates add around text segments.
_MARK_OPEN = f"\ue000{secrets.token_hex(8)}\ue001"
_MARK_CLOSE = f"\ue002{secrets.token_hex(8)}\ue003"

FACET_FIELDS = {"label": "labels", "source": "source", "status": "review.status", "employee": "author_is_employee"}


def text_query(params: SearchParams) -> dict[str, Any] | None:
    if not params.q:
        return None
    return {"simple_query_string": {
        "query": params.q, "fields": TEXT_FIELDS, "default_operator": "and", "lenient": True,
        "flags": "AND|OR|NOT|PHRASE|PREFIX|PRECEDENCE|WHITESPACE|ESCAPE",
    }}


def _range_filters(params: SearchParams) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = []
    if params.risk_min is not None or params.risk_max is not None:
        risk: dict[str, int] = {}
        if params.risk_min is not None:
            risk["gte"] = params.risk_min
        if params.risk_max is not None:
            risk["lte"] = params.risk_max
        filters.append({"range": {"risk": risk}})
    if params.date_from or params.date_to:
        created: dict[str, str] = {}
        if params.date_from:
            created["gte"] = params.date_from.isoformat()
        if params.date_to:
            created["lt"] = (params.date_to + dt.timedelta(days=1)).isoformat()
        filters.append({"range": {"created_at": created}})
    if params.author:
        filters.append({"term": {"author_handle": params.author}})
    if params.employee_id:
        filters.append({"term": {"employee_id": params.employee_id}})
    if params.assignee:
        filters.append({"term": {"review.assignee": params.assignee}})
    return filters


def _status_filter(statuses: list[str]) -> dict[str, Any]:
    should: list[dict[str, Any]] = [{"terms": {"review.status": statuses}}]
    if ReviewStatus.new.value in statuses:  # documents written before the review object existed count as new
        should.append({"bool": {"must_not": {"exists": {"field": "review.status"}}}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def facet_filters(params: SearchParams) -> dict[str, dict[str, Any]]:
    """The filter each selected facet contributes (absent when nothing is selected in it)."""
    out: dict[str, dict[str, Any]] = {}
    if params.labels:
        out["label"] = {"terms": {"labels": params.labels}}
    if params.sources:
        out["source"] = {"terms": {"source": params.sources}}
    if params.statuses:
        out["status"] = _status_filter(params.statuses)
    if params.employee:
        out["employee"] = {"term": {"author_is_employee": params.employee == "yes"}}
    return out


def base_query(params: SearchParams) -> dict[str, Any]:
    """Text query and range filters: what every count and every hit is drawn from."""
    must = [q] if (q := text_query(params)) else []
    return {"bool": {"must": must or [{"match_all": {}}], "filter": _range_filters(params)}}


def full_query(params: SearchParams) -> dict[str, Any]:
    """Everything, facet selections included (what the hits and the export show)."""
    query = base_query(params)
    query["bool"]["filter"] = query["bool"]["filter"] + list(facet_filters(params).values())
    return query


def sort_clause(params: SearchParams) -> list[Any]:
    tie = {"mention_id": "asc"}
    if params.sort == "newest":
        return [{"created_at": {"order": "desc", "missing": "_last"}}, tie]
    if params.sort == "oldest":
        return [{"created_at": {"order": "asc", "missing": "_last"}}, tie]
    if params.sort == "relevance" and params.q:
        return ["_score", {"risk": "desc"}, {"created_at": "desc"}, tie]
    return [{"risk": "desc"}, {"created_at": {"order": "desc", "missing": "_last"}}, tie]


def build_search_body(params: SearchParams) -> dict[str, Any]:
    selected = facet_filters(params)
    aggs: dict[str, Any] = {}
    for facet, field in FACET_FIELDS.items():
        others = [f for name, f in selected.items() if name != facet]
        terms: dict[str, Any] = {"field": field, "size": FACET_SIZE}
        if facet == "status":
            terms["missing"] = ReviewStatus.new.value
        aggs[facet] = {"filter": {"bool": {"filter": others}}, "aggs": {"values": {"terms": terms}}}
    body: dict[str, Any] = {
        "query": base_query(params),
        "post_filter": {"bool": {"filter": list(selected.values())}},
        "aggs": aggs,
        "sort": sort_clause(params),
        "from": (params.page - 1) * params.size,
        "size": params.size,
        "track_total_hits": True,
        "seq_no_primary_term": True,
        "_source": {"excludes": ["explanations", "review.notes"]},
    }
    if params.q:
        body["highlight"] = {
            "pre_tags": [_MARK_OPEN], "post_tags": [_MARK_CLOSE], "encoder": "default",
            "fields": {"text": {"number_of_fragments": 3, "fragment_size": 160, "no_match_size": SNIPPET_CHARS},
                       "text.exact": {"number_of_fragments": 3, "fragment_size": 160}},
        }
    return body


def split_highlight(fragments: list[str]) -> list[HighlightSegment]:
    """Turn highlighted fragments into plain-text segments (``hit`` = matched); no markup survives."""
    segments: list[HighlightSegment] = []
    for n, fragment in enumerate(fragments):
        if n:
            segments.append(HighlightSegment(text=" … "))
        for i, part in enumerate(fragment.split(_MARK_OPEN)):
            if i == 0:
                if part:
                    segments.append(HighlightSegment(text=part.replace(_MARK_CLOSE, "")))
                continue
            matched, _, rest = part.partition(_MARK_CLOSE)
            if matched:
                segments.append(HighlightSegment(text=matched, hit=True))
            if rest:
                segments.append(HighlightSegment(text=rest))
    return segments


def trim_segments(segments: list[HighlightSegment], limit: int = SNIPPET_CHARS + 100) -> list[HighlightSegment]:
    """At most ``limit`` characters of snippet (a fragment of one 6,000-character "word" is all word)."""
    out: list[HighlightSegment] = []
    left = limit
    for segment in segments:
        if left <= 0:
            out.append(HighlightSegment(text="…"))
            break
        text = segment.text if len(segment.text) <= left else segment.text[:left] + "…"
        out.append(HighlightSegment(text=text, hit=segment.hit))
        left -= len(segment.text)
    return out


def item_version(hit: dict[str, Any]) -> str:
    """``seq_no.primary_term.reviews``: Elasticsearch's optimistic-concurrency pair plus the review count."""
    history = ((hit.get("_source") or {}).get("review") or {}).get("history") or []
    return f"{hit['_seq_no']}.{hit['_primary_term']}.{len(history)}"


def _hit(raw: dict[str, Any]) -> SearchHit:
    src = raw["_source"]
    review = src.get("review") or {}
    highlight = raw.get("highlight") or {}
    fragments = highlight.get("text") or highlight.get("text.exact")
    text = src.get("text") or ""
    snippet = trim_segments(split_highlight(fragments)) if fragments else [
        HighlightSegment(text=text[:SNIPPET_CHARS] + ("…" if len(text) > SNIPPET_CHARS else ""))]
    return SearchHit(
        id=raw["_id"], version=item_version(raw), source=src.get("source") or "", url=src.get("url"),
        text_preview=text[:PREVIEW_CHARS], snippet=snippet, author_handle=src.get("author_handle") or "",
        author_display_name=src.get("author_display_name"), author_is_employee=bool(src.get("author_is_employee")),
        employee_id=src.get("employee_id"), created_at=src.get("created_at"), labels=list(src.get("labels") or []),
        risk=int(src.get("risk") or 0), status=review.get("status") or ReviewStatus.new.value,
        assignee=review.get("assignee"),
    )


def _facets(aggs: dict[str, Any], params: SearchParams) -> dict[str, list[FacetBucket]]:
    selected = {"label": params.labels, "source": params.sources, "status": params.statuses,
                "employee": [params.employee] if params.employee else []}
    out: dict[str, list[FacetBucket]] = {}
    for facet in FACET_FIELDS:
        buckets = ((aggs.get(facet) or {}).get("values") or {}).get("buckets") or []
        values = []
        for bucket in buckets:
            value = bucket.get("key_as_string", str(bucket["key"]))
            if facet == "employee":
                value = "yes" if value in ("true", "1") else "no"
            values.append(FacetBucket(value=value, count=bucket["doc_count"], selected=value in selected[facet]))
        present = {b.value for b in values}
        values += [FacetBucket(value=v, count=0, selected=True) for v in selected[facet] if v not in present]
        out[facet] = values
    return out


async def search_items(client: AsyncElasticsearch, *, index: str, params: SearchParams) -> SearchPage:
    response = await client.search(index=index, ignore_unavailable=True, **build_search_body(params))
    total = response["hits"]["total"]
    return SearchPage(
        params=params, total=total["value"], total_is_exact=total.get("relation", "eq") == "eq",
        hits=[_hit(raw) for raw in response["hits"]["hits"]],
        facets=_facets(response.get("aggregations") or {}, params), took_ms=response.get("took", 0),
    )


async def iter_matching(client: AsyncElasticsearch, *, index: str, params: SearchParams,
                        limit: int, batch: int = 500) -> AsyncIterator[dict[str, Any]]:
    """Every document the search matches (facets applied), in its sort order, up to ``limit``; for export."""
    search_after: list[Any] | None = None
    seen = 0
    while seen < limit:
        body: dict[str, Any] = {"query": full_query(params), "sort": sort_clause(params),
                                "size": min(batch, limit - seen), "track_total_hits": False}
        if search_after is not None:
            body["search_after"] = search_after
        response = await client.search(index=index, ignore_unavailable=True, **body)
        hits = response["hits"]["hits"]
        if not hits:
            return
        for raw in hits:
            yield {"_id": raw["_id"], **raw["_source"]}
        seen += len(hits)
        search_after = hits[-1]["sort"]

"""The overview: flagged items over time by label and by source, and the review queues, from aggregations.

Charts are drawn on the server as inline SVG (no script, no CDN); every label in them is escaped.

Example::

    data = await overview_data(client, index="ims-flagged-items", days=90)
    chart_svg(data["by_label"], title="Flagged items by label")
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from elasticsearch import AsyncElasticsearch
from markupsafe import Markup, escape

from pipeline.dashboard.models import ReviewStatus
from schemas.records import POLICY_LABELS

HISTOGRAM_BUCKETS = 30
TOP_SOURCES = 8
HIGH_RISK = 70
PERIODS = {"7": 7, "30": 30, "90": 90, "365": 365, "all": None}

# Colour-blind-safe palette (Okabe-Ito + greys), one colour per series.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999"]


async def _interval(client: AsyncElasticsearch, *, index: str, time_filter: list[dict[str, Any]]) -> str:
    """Day, week or month bars, whichever gives at most ~``HISTOGRAM_BUCKETS`` of them for the data's span."""
    response = await client.search(index=index, size=0, ignore_unavailable=True,
                                   query={"bool": {"filter": time_filter}},
                                   aggs={"first": {"min": {"field": "created_at"}},
                                         "last": {"max": {"field": "created_at"}}})
    aggs = response.get("aggregations") or {}
    first, last = (aggs.get("first") or {}).get("value"), (aggs.get("last") or {}).get("value")
    span_days = ((last - first) / 86_400_000) if first is not None and last is not None else 0
    if span_days <= HISTOGRAM_BUCKETS:
        return "day"
    if span_days <= 7 * HISTOGRAM_BUCKETS:
        return "week"
    return "month"


def _series(buckets: list[dict[str, Any]], sub: str, keys: list[str]) -> list[dict[str, Any]]:
    out = []
    for bucket in buckets:
        counts = {b["key"] if isinstance(b["key"], str) else str(b["key"]): b["doc_count"]
                  for b in bucket[sub]["buckets"]}
        other = bucket[sub].get("sum_other_doc_count", 0)
        row = {"date": bucket.get("key_as_string", "")[:10], "total": bucket["doc_count"],
               "counts": {k: counts.get(k, 0) for k in keys}}
        if other:
            row["counts"]["other"] = other
        out.append(row)
    return out


async def overview_data(client: AsyncElasticsearch, *, index: str, days: int | None) -> dict[str, Any]:
    """Time series by label and by source over the last ``days`` (None: all time), and queue sizes."""
    time_filter: list[dict[str, Any]] = []
    if days:
        time_filter.append({"range": {"created_at": {"gte": f"now-{days}d/d"}}})
    open_statuses = [ReviewStatus.new.value, ReviewStatus.in_review.value, ReviewStatus.escalated.value]
    interval = await _interval(client, index=index, time_filter=time_filter)
    response = await client.search(
        index=index, size=0, ignore_unavailable=True, track_total_hits=True,
        query={"bool": {"filter": time_filter}},
        aggs={
            "over_time": {
                "date_histogram": {"field": "created_at", "calendar_interval": interval, "format": "yyyy-MM-dd",
                                   "min_doc_count": 0},
                "aggs": {"labels": {"terms": {"field": "labels", "size": len(POLICY_LABELS)}},
                         "sources": {"terms": {"field": "source", "size": TOP_SOURCES}}},
            },
            "sources": {"terms": {"field": "source", "size": TOP_SOURCES}},
            "labels": {"terms": {"field": "labels", "size": len(POLICY_LABELS)}},
            # Queues are about now, whatever the period shown.
            "queues": {"global": {}, "aggs": {
                "status": {"terms": {"field": "review.status", "missing": ReviewStatus.new.value, "size": 10}},
                "unassigned_open": {"filter": {"bool": {
                    "filter": [{"bool": {"should": [{"terms": {"review.status": open_statuses}},
                                                    {"bool": {"must_not": {"exists": {"field": "review.status"}}}}]}}],
                    "must_not": [{"exists": {"field": "review.assignee"}}]}}},
                "high_risk_open": {"filter": {"bool": {"filter": [
                    {"range": {"risk": {"gte": HIGH_RISK}}},
                    {"bool": {"should": [{"terms": {"review.status": open_statuses}},
                                         {"bool": {"must_not": {"exists": {"field": "review.status"}}}}]}}]}}},
            }},
        },
    )
    aggs = response.get("aggregations")
    if not aggs:
        return {"total": 0, "by_label": [], "by_source": [], "label_keys": [], "source_keys": [],
                "queues": {s.value: 0 for s in ReviewStatus}, "unassigned_open": 0, "high_risk_open": 0,
                "interval": None, "days": days}
    buckets = aggs["over_time"]["buckets"]
    label_keys = [b["key"] for b in aggs["labels"]["buckets"]]
    source_keys = [b["key"] for b in aggs["sources"]["buckets"]]
    queues = {s.value: 0 for s in ReviewStatus}
    for b in aggs["queues"]["status"]["buckets"]:
        queues[str(b["key"])] = b["doc_count"]
    return {
        "total": response["hits"]["total"]["value"], "days": days,
        "interval": interval,
        "by_label": _series(buckets, "labels", label_keys), "label_keys": label_keys,
        "by_source": _series(buckets, "sources", source_keys), "source_keys": source_keys,
        "queues": queues, "unassigned_open": aggs["queues"]["unassigned_open"]["doc_count"],
        "high_risk_open": aggs["queues"]["high_risk_open"]["doc_count"],
    }


#: Each label keeps its colour whatever the period shown.
LABEL_COLOURS = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(POLICY_LABELS)}


def chart_svg(rows: list[dict[str, Any]], *, keys: list[str], title: str, colours: dict[str, str] | None = None,
              width: int = 880, height: int = 260) -> Markup:
    """A stacked bar chart as an inline SVG string; each bar segment has a <title> tooltip."""
    series = list(keys) + (["other"] if any("other" in r["counts"] for r in rows) else [])
    fill = {key: (colours or {}).get(key) or PALETTE[k % len(PALETTE)] for k, key in enumerate(series)}
    fill["other"] = PALETTE[-1]
    left, right, top, bottom, legend_h = 44, 10, 10, 34, 22 * ((len(series) + 3) // 4)
    plot_w, plot_h = width - left - right, height - top - bottom
    total_h = height + legend_h
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {total_h}" width="100%" '
             f'xmlns="http://www.w3.org/2000/svg" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    peak = max([sum(r["counts"].values()) for r in rows] + [1])
    for value in sorted({round(peak * i / 4) for i in range(5)}):  # y grid
        y = top + plot_h - plot_h * (value / peak)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#444">{value}</text>')
    if not rows:
        parts.append(f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#666">'
                     'No flagged items in this period</text>')
    slot = plot_w / max(len(rows), 1)
    bar_w = max(2.0, slot * 0.75)
    label_every = max(1, len(rows) // 8)
    for n, row in enumerate(rows):
        x = left + n * slot + (slot - bar_w) / 2
        y = top + plot_h
        for key in series:
            count = row["counts"].get(key, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                         f'fill="{fill[key]}"><title>{escape(row["date"])} · '
                         f'{escape(key)}: {count}</title></rect>')
        if n % label_every == 0:
            centre = min(max(x + bar_w / 2, left + 32), width - right - 32)  # keep the date inside the frame
            parts.append(f'<text x="{centre:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                         f'font-size="11" fill="#444">{escape(row["date"])}</text>')
    for k, key in enumerate(series):  # legend
        lx = left + (k % 4) * (plot_w / 4)
        ly = height + 4 + 22 * (k // 4)
        parts.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{fill[key]}"/>'
                     f'<text x="{lx + 18:.1f}" y="{ly + 11}" font-size="12" fill="#222">{escape(key)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def period_days(value: str | None) -> tuple[str, int | None]:
    key = value if value in PERIODS else "all"
    return key, PERIODS[key]


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()

"""Unit tests of the dashboard's pure parts: URL parameters, query building, highlights, CSV cells, escaping."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from pipeline.dashboard.auth import LoginThrottle, hash_password, validate_password, validate_username, verify_password
from pipeline.dashboard.errors import LoginThrottled, UserError
from pipeline.dashboard.export import csv_chunks, neutralise_cell
from pipeline.dashboard.models import TRANSITIONS, ReviewStatus, Role, SearchParams
from pipeline.dashboard.overview import chart_svg
from pipeline.dashboard.pages import reveal, safe_next, safe_url
from pipeline.dashboard.search import _MARK_CLOSE, _MARK_OPEN, build_search_body, split_highlight


def test_search_params_round_trip_through_the_url() -> None:
    url = ("q=logo+%22profile+pic%22&label=logo_misuse&label=disrepute&source=twitter&status=new&risk_min=40"
           "&risk_max=90&employee=yes&from=2026-11-01&to=2026-11-20&sort=newest&page=3&size=50")
    from urllib.parse import parse_qsl

    params = SearchParams.parse(parse_qsl(url))
    assert params.q == 'logo "profile pic"'
    assert params.labels == ["logo_misuse", "disrepute"]
    assert params.date_from == dt.date(2026, 11, 1) and params.page == 3 and params.size == 50
    assert SearchParams.parse(parse_qsl(params.to_query())) == params


def test_search_params_drop_nonsense_and_clamp() -> None:
    params = SearchParams.parse([("label", "not_a_label"), ("status", "<script>"), ("risk_min", "-5"),
                                 ("risk_max", "999"), ("employee", "maybe"), ("from", "yesterday"), ("sort", "evil"),
                                 ("size", "100000"), ("page", "999999"), ("q", "x" * 2000)])
    assert params.labels == [] and params.statuses == [] and params.employee is None and params.date_from is None
    assert (params.risk_min, params.risk_max) == (0, 100)
    assert params.size == 100 and params.page == 100  # from + size never beyond 10,000
    assert len(params.q) == 500 and params.sort == "relevance"


def test_toggling_a_facet_value_adds_or_removes_it_and_resets_the_page() -> None:
    params = SearchParams.parse([("label", "harassment"), ("page", "2")])
    assert "label=harassment" in params.toggled("labels", "defamation") and "page" not in params.toggled("labels", "x")
    assert "label" not in params.toggled("labels", "harassment")


def test_query_text_only_goes_to_simple_query_string() -> None:
    body = build_search_body(SearchParams.parse([("q", 'a AND ( "b'), ("label", "harassment")]))
    must = body["query"]["bool"]["must"][0]
    assert list(must) == ["simple_query_string"] and must["simple_query_string"]["lenient"] is True
    assert body["post_filter"]["bool"]["filter"] == [{"terms": {"labels": ["harassment"]}}]
    # the label facet ignores its own selection, the others apply it
    assert body["aggs"]["label"]["filter"]["bool"]["filter"] == []
    assert body["aggs"]["source"]["filter"]["bool"]["filter"] == [{"terms": {"labels": ["harassment"]}}]


def test_highlights_become_plain_segments() -> None:
    fragment = f"before {_MARK_OPEN}<b>hit</b>{_MARK_CLOSE} after <script>"
    segments = split_highlight([fragment, f"{_MARK_OPEN}x{_MARK_CLOSE}"])
    assert [(s.text, s.hit) for s in segments] == [("before ", False), ("<b>hit</b>", True),
                                                   (" after <script>", False), (" … ", False), ("x", True)]


@pytest.mark.parametrize("cell, expected", [
    ("=HYPERLINK(\"http://evil\",\"x\")", "'=HYPERLINK(\"http://evil\",\"x\")"),
    ("+1+1", "'+1+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("\rcmd", "'\rcmd"),
    ("＝1+1", "'＝1+1"), ("plain text", "plain text"), (42, "42"), (True, "yes"), (None, ""),
    (["harassment", "disrepute"], "harassment; disrepute"),
])
def test_csv_cells_that_spreadsheets_would_evaluate_are_neutralised(cell: object, expected: str) -> None:
    assert neutralise_cell(cell) == expected


def test_csv_chunks_quote_newlines_and_start_with_a_bom() -> None:
    async def docs():
        yield {"_id": "a:1", "text": "line1\nline2, \"quoted\"", "labels": ["x"], "risk": 5}

    async def collect() -> str:
        return "".join([chunk async for chunk in csv_chunks(docs())])

    text = asyncio.run(collect())
    assert text.startswith("\ufeffid,created_at")
    assert '"line1\nline2, ""quoted"""' in text


def test_reveal_escapes_and_shows_hidden_characters() -> None:
    html = str(reveal('<img src=x onerror="alert(1)">\u202egnp.exe\u200b'))
    assert "<img" not in html and "&lt;img" in html and "&#34;" in html
    assert "⟦U+202E⟧" in html and "⟦U+200B⟧" in html and "\u202e" not in html


@pytest.mark.parametrize("url, ok", [
    ("https://example.com/a?b=c", True), ("http://x.y/", True), ("javascript:alert(1)", False),
    ("JaVaScRiPt:alert(1)", False), ("java\tscript:alert(1)", False), (" https://x.y", False),
    ("data:text/html,<script>", False), ("https://x.y/\"onmouseover=\"alert(1)", False), ("//evil.com", False),
    ("vbscript:x", False), (None, False), ("https://x.y/\u202e", True),
])
def test_only_plain_http_urls_become_links(url: str | None, ok: bool) -> None:
    assert (safe_url(url) is not None) is ok


@pytest.mark.parametrize("target, expected", [
    ("/search?q=a", "/search?q=a"), ("//evil.com", "/"), ("https://evil.com", "/"), ("/\\evil.com", "/"),
    ("", "/"), (None, "/"), ("/x\r\nSet-Cookie: a", "/"),
])
def test_sign_in_redirects_only_to_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_chart_escapes_series_names() -> None:
    svg = str(chart_svg([{"date": "2026-11-01", "total": 2, "counts": {"<script>": 2}}], keys=["<script>"], title="t"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and svg.startswith("<svg")


def test_review_workflow_transitions() -> None:
    assert ReviewStatus.in_review in TRANSITIONS[ReviewStatus.new]
    assert ReviewStatus.actioned not in TRANSITIONS[ReviewStatus.new]
    assert TRANSITIONS[ReviewStatus.dismissed] == {ReviewStatus.in_review}
    assert Role.admin.allows(Role.reviewer) and not Role.viewer.allows(Role.reviewer)


def test_passwords_are_argon2id_and_rules_apply() -> None:
    hashed = hash_password("a long enough passphrase")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough passphrase") and not verify_password(hashed, "wrong")
    assert not verify_password(None, "anything")
    with pytest.raises(UserError):
        validate_password("short", username="bob")
    with pytest.raises(UserError):
        validate_password("bob-is-my-name-123", username="bob")
    with pytest.raises(UserError):
        validate_username("Robert'); DROP")
    assert validate_username(" Hr.Lead ") == "hr.lead"


def test_login_throttle_locks_out_then_forgets() -> None:
    now = [1000.0]
    throttle = LoginThrottle(max_failures=3, max_failures_per_ip=5, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.check(username="a", ip="1.1.1.1")
        throttle.record_failure(username="a", ip="1.1.1.1")
    with pytest.raises(LoginThrottled) as info:
        throttle.check(username="a", ip="1.1.1.1")
    assert 1 <= info.value.retry_after <= 61
    throttle.check(username="b", ip="2.2.2.2")  # others are unaffected
    for _ in range(2):
        throttle.record_failure(username=f"u{_}", ip="1.1.1.1")
    with pytest.raises(LoginThrottled):  # per-address limit across user names
        throttle.check(username="c", ip="1.1.1.1")
    now[0] += 61
    throttle.check(username="a", ip="1.1.1.1")


def test_the_session_secret_is_refused_in_the_config_file(tmp_path) -> None:
    from pipeline.settings import load_settings

    config = tmp_path / "ims.yaml"
    config.write_text("dashboard:\n  session_secret: hunter2\n")
    with pytest.raises(ValueError, match="IMS_DASHBOARD__SESSION_SECRET"):
        load_settings(config)


def test_snippets_are_trimmed() -> None:
    from pipeline.dashboard.search import trim_segments

    segments = split_highlight([f"{_MARK_OPEN}hit{_MARK_CLOSE} " + "A" * 6000, "more"])
    trimmed = trim_segments(segments, limit=100)
    assert sum(len(s.text) for s in trimmed) <= 102 and trimmed[0].hit and trimmed[-1].text.endswith("…")

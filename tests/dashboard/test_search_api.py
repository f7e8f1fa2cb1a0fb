"""Search over the real index through the JSON API: text, filters, facets, highlights, sorting, paging."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.dashboard.conftest import LiveDashboard, flagged_item, index_items

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def viewer(dashboard: LiveDashboard) -> Iterator[httpx.Client]:
    index_items(dashboard.settings, [
        flagged_item("IMS zqxsearch managers leaked the contract values", source_id="s-a", labels=["confidential_info"],
                     risk=80, created_at="2026-11-01T09:00:00Z", author_is_employee=True, employee_id="E100"),
        flagged_item("IMS zqxsearch logo as my profile pic", source="instagram", source_id="s-b",
                     labels=["logo_misuse"], risk=30, created_at="2026-11-10T09:00:00Z"),
        flagged_item("zqxsearch harassment by a manager at IMS", source="reddit", source_id="s-c",
                     labels=["harassment", "disrepute"], risk=65, created_at="2026-11-15T09:00:00Z",
                     author_is_employee=True, employee_id="E200", author_handle="@whistle"),
        flagged_item("zqxsearch drinking at the IMS party", source_id="s-d", labels=["safeguarding"], risk=45,
                     created_at="2026-10-20T09:00:00Z"),
        *[flagged_item(f"zqxpaging filler number {n}", source="blog", source_id=f"p-{n:02d}", risk=n,
                       created_at=f"2026-09-{n:02d}T08:00:00Z") for n in range(1, 31)],
    ])
    client = dashboard.client("viewer")
    yield client
    client.close()


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:500]
    return [hit["id"] for hit in response.json()["hits"]]


def test_full_text_with_highlighted_matches(viewer: httpx.Client) -> None:
    page = viewer.get("/api/search", params={"q": "zqxsearch"}).json()
    assert page["total"] == 4
    for hit in page["hits"]:
        assert {"text": "zqxsearch", "hit": True} in hit["snippet"]
    # words in any order (default operator AND), phrases, exclusion, prefix
    assert ids(viewer.get("/api/search", params={"q": "zqxsearch contract leaked"})) == ["twitter:s-a"]
    assert ids(viewer.get("/api/search", params={"q": 'zqxsearch "logo as my"'})) == ["instagram:s-b"]
    assert len(ids(viewer.get("/api/search", params={"q": "zqxsearch -ims"}))) == 0
    assert len(ids(viewer.get("/api/search", params={"q": "zqxsear*"}))) == 4
    assert ids(viewer.get("/api/search", params={"q": "zqxsearch whistle"})) == ["reddit:s-c"]  # author handle


@pytest.mark.parametrize("query", ['"unbalanced', "a AND (", "*", "\\", "{}[]^~:/!", "/.*/", "text:ims OR",
                                   "(((", "x" * 600, "OR", "-", "zqxsearch~2 AND NOT", "\u202e<script>"])
def test_no_query_text_can_break_elasticsearch(viewer: httpx.Client, query: str) -> None:
    response = viewer.get("/api/search", params={"q": query})
    assert response.status_code == 200, response.text[:300]
    assert viewer.get("/search", params={"q": query}).status_code == 200


@pytest.mark.parametrize("params, expected", [
    ({"label": "confidential_info"}, {"twitter:s-a"}),
    ({"label": ["logo_misuse", "safeguarding"]}, {"instagram:s-b", "twitter:s-d"}),
    ({"source": "twitter"}, {"twitter:s-a", "twitter:s-d"}),
    ({"risk_min": "40", "risk_max": "70"}, {"reddit:s-c", "twitter:s-d"}),
    ({"employee": "yes"}, {"twitter:s-a", "reddit:s-c"}),
    ({"employee": "no"}, {"instagram:s-b", "twitter:s-d"}),
    ({"from": "2026-11-05", "to": "2026-11-10"}, {"instagram:s-b"}),
    ({"status": "new"}, {"twitter:s-a", "instagram:s-b", "reddit:s-c", "twitter:s-d"}),
    ({"status": "escalated"}, set()),
    ({"employee_id": "E200"}, {"reddit:s-c"}),
    ({"author": "@whistle"}, {"reddit:s-c"}),
])
def test_filters(viewer: httpx.Client, params: dict[str, object], expected: set[str]) -> None:
    assert set(ids(viewer.get("/api/search", params={"q": "zqxsearch", **params}))) == expected


def test_facet_counts_are_multi_select(viewer: httpx.Client) -> None:
    page = viewer.get("/api/search", params={"q": "zqxsearch", "label": "harassment"}).json()
    assert page["total"] == 1
    labels = {b["value"]: (b["count"], b["selected"]) for b in page["facets"]["label"]}
    # the label facet still counts every label (its own selection excluded) ...
    assert labels["harassment"] == (1, True) and labels["logo_misuse"] == (1, False)
    assert labels["confidential_info"] == (1, False)
    # ... while the other facets count within the selection
    assert {b["value"]: b["count"] for b in page["facets"]["source"]} == {"reddit": 1}
    assert {b["value"]: b["count"] for b in page["facets"]["employee"]} == {"yes": 1}
    assert {b["value"]: b["count"] for b in page["facets"]["status"]} == {"new": 1}


def test_sorting(viewer: httpx.Client) -> None:
    def order(sort: str) -> list[str]:
        return ids(viewer.get("/api/search", params={"q": "zqxsearch", "sort": sort}))

    assert order("risk") == ["twitter:s-a", "reddit:s-c", "twitter:s-d", "instagram:s-b"]
    assert order("newest") == ["reddit:s-c", "instagram:s-b", "twitter:s-a", "twitter:s-d"]
    assert order("oldest") == list(reversed(order("newest")))


def test_paging_is_stable_and_capped(viewer: httpx.Client) -> None:
    seen: list[str] = []
    for page in (1, 2, 3):
        body = viewer.get("/api/search", params={"q": "zqxpaging", "size": "10", "page": str(page)}).json()
        assert body["total"] == 30 and len(body["hits"]) == 10
        seen += [h["id"] for h in body["hits"]]
    assert len(set(seen)) == 30
    assert [h["risk"] for h in viewer.get("/api/search", params={"q": "zqxpaging", "size": "5"}).json()["hits"]] == \
        [30, 29, 28, 27, 26]
    assert viewer.get("/api/search", params={"q": "zqxpaging", "size": "10", "page": "4"}).json()["hits"] == []
    assert viewer.get("/api/search", params={"size": "5000"}).json()["params"]["size"] == 100


def test_search_page_links_keep_the_search(viewer: httpx.Client) -> None:
    html = viewer.get("/search", params={"q": "zqxpaging", "size": "10", "label": "reputation_risk"}).text
    assert 'href="/search?q=zqxpaging&amp;label=reputation_risk&amp;page=2&amp;size=10"' in html
    assert "30 items" in html

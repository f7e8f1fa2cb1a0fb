"""The review workflow through the JSON API: transitions, history, notes, assignees, concurrency, bulk dismiss."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.dashboard.conftest import LiveDashboard, csrf_of, flagged_item, index_items

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clients(dashboard: LiveDashboard) -> Iterator[dict[str, httpx.Client]]:
    made = {role: dashboard.client(role) for role in ("viewer", "reviewer", "admin")}
    yield made
    for client in made.values():
        client.close()


def patch_review(client: httpx.Client, item_id: str, body: dict[str, object]) -> httpx.Response:
    return client.patch(f"/api/items/{quote(item_id, safe='')}/review", json=body,
                        headers={"X-CSRF-Token": csrf_of(client)})


def new_item(dashboard: LiveDashboard, **overrides: object) -> str:
    item = flagged_item("IMS review workflow item", **overrides)
    index_items(dashboard.settings, [item])
    return item.mention_id


def test_status_goes_new_in_review_escalated_with_history_and_notes(dashboard: LiveDashboard,
                                                                   clients: dict[str, httpx.Client]) -> None:
    reviewer = clients["reviewer"]
    item_id = new_item(dashboard, source="bluesky", source_id="at://did:plc:abc/app.bsky.feed.post/3k")
    item = reviewer.get(f"/api/items/{quote(item_id, safe='')}").json()
    assert item["review"]["status"] == "new" and item["id"] == item_id

    saved = patch_review(reviewer, item_id, {"version": item["version"], "status": "in_review",
                                             "note": "Looking into it"})
    assert saved.status_code == 200, saved.text
    review = saved.json()["review"]
    assert review["status"] == "in_review" and review["assignee"] == "reviewer"  # taking it assigns it
    assert review["notes"][0]["text"] == "Looking into it" and review["updated_by"] == "reviewer"

    escalated = patch_review(reviewer, item_id, {"version": saved.json()["version"], "status": "escalated",
                                                 "assignee": "admin"}).json()["review"]
    assert escalated["status"] == "escalated" and escalated["assignee"] == "admin"
    assert [(h.get("from"), h.get("to")) for h in escalated["history"]] == [("new", "in_review"),
                                                                             ("in_review", "escalated")]
    # the search sees the new status at once
    found = reviewer.get("/api/search", params={"status": "escalated", "q": "workflow"}).json()
    assert item_id in [h["id"] for h in found["hits"]]
    mine = reviewer.get("/api/search", params={"assignee": "admin", "status": "escalated"}).json()
    assert item_id in [h["id"] for h in mine["hits"]]
    assert item_id not in [h["id"] for h in reviewer.get("/api/search", params={"assignee": "reviewer"}).json()["hits"]]


def test_invalid_transitions_and_assignees_are_refused(dashboard: LiveDashboard,
                                                       clients: dict[str, httpx.Client]) -> None:
    reviewer = clients["reviewer"]
    item_id = new_item(dashboard)
    version = reviewer.get(f"/api/items/{item_id}").json()["version"]
    response = patch_review(reviewer, item_id, {"version": version, "status": "actioned"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_transition"
    response = patch_review(reviewer, item_id, {"version": version, "assignee": "viewer"})
    assert response.status_code == 422  # a viewer cannot be assigned
    response = patch_review(reviewer, item_id, {"version": version, "status": "bogus"})
    assert response.status_code == 422
    assert patch_review(reviewer, "twitter:does-not-exist", {"version": "1.1.0", "status": "in_review"}).status_code == 404


def test_two_reviewers_editing_at_once_do_not_overwrite_each_other(dashboard: LiveDashboard,
                                                                   clients: dict[str, httpx.Client]) -> None:
    first, second = clients["reviewer"], clients["admin"]
    item_id = new_item(dashboard)
    seen_by_first = first.get(f"/api/items/{item_id}").json()["version"]
    seen_by_second = second.get(f"/api/items/{item_id}").json()["version"]

    assert patch_review(first, item_id, {"version": seen_by_first, "status": "in_review",
                                         "note": "mine"}).status_code == 200
    conflict = patch_review(second, item_id, {"version": seen_by_second, "status": "dismissed", "note": "theirs"})
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["error"] == "conflict" and body["current"]["review"]["status"] == "in_review"
    assert body["current"]["review"]["updated_by"] == "reviewer"

    stored = first.get(f"/api/items/{item_id}").json()["review"]
    assert stored["status"] == "in_review" and [n["text"] for n in stored["notes"]] == ["mine"]
    # with the version they now see, the second reviewer's change goes through
    retry = patch_review(second, item_id, {"version": body["current"]["version"], "status": "dismissed"})
    assert retry.status_code == 200 and retry.json()["review"]["status"] == "dismissed"


def test_the_worker_reindexing_an_item_neither_conflicts_nor_resets_the_review(
        dashboard: LiveDashboard, clients: dict[str, httpx.Client]) -> None:
    reviewer = clients["reviewer"]
    item = flagged_item("IMS item the worker sees twice", risk=40)
    index_items(dashboard.settings, [item])
    version = reviewer.get(f"/api/items/{item.mention_id}").json()["version"]
    index_items(dashboard.settings, [item.derive(risk=55)])  # re-delivered: same id, new seq_no, review untouched
    saved = patch_review(reviewer, item.mention_id, {"version": version, "status": "in_review"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["risk"] == 55
    index_items(dashboard.settings, [item.derive(risk=60)])
    after = reviewer.get(f"/api/items/{item.mention_id}").json()
    assert after["risk"] == 60 and after["review"]["status"] == "in_review" and after["review"]["assignee"] == "reviewer"


def test_bulk_dismiss_reports_items_changed_since_listing(dashboard: LiveDashboard,
                                                          clients: dict[str, httpx.Client]) -> None:
    reviewer = clients["reviewer"]
    items = [flagged_item(f"IMS zqxbulk item {n}") for n in range(3)]
    index_items(dashboard.settings, items)
    listed = {h["id"]: h["version"] for h in reviewer.get("/api/search", params={"q": "zqxbulk"}).json()["hits"]}
    assert len(listed) == 3
    changed = items[0].mention_id
    assert patch_review(clients["admin"], changed, {"version": listed[changed], "status": "in_review"}).status_code == 200
    response = reviewer.post("/api/items/bulk-dismiss", json={"items": listed},
                             headers={"X-CSRF-Token": csrf_of(reviewer)})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["conflicts"] == [changed]
    assert sorted(result["dismissed"]) == sorted(i.mention_id for i in items[1:])
    statuses = {h["id"]: h["status"] for h in reviewer.get("/api/search", params={"q": "zqxbulk"}).json()["hits"]}
    assert statuses == {changed: "in_review", items[1].mention_id: "dismissed", items[2].mention_id: "dismissed"}


def test_viewer_cannot_change_a_review(dashboard: LiveDashboard, clients: dict[str, httpx.Client]) -> None:
    viewer = clients["viewer"]
    item_id = new_item(dashboard)
    version = viewer.get(f"/api/items/{item_id}").json()["version"]
    assert patch_review(viewer, item_id, {"version": version, "status": "in_review"}).status_code == 403
    assert viewer.post("/api/items/bulk-dismiss", json={"items": {item_id: version}},
                       headers={"X-CSRF-Token": csrf_of(viewer)}).status_code == 403
    assert viewer.get(f"/api/items/{item_id}").json()["review"]["status"] == "new"

"""One flagged item, and the reviewers' changes to it.

Reviews are read-modify-write with optimistic concurrency: the client sends back the ``version`` it read
(``seq_no.primary_term.reviews``), the write carries ``if_seq_no``/``if_primary_term``, and a reviewer who
saw an outdated review gets :class:`EditConflict` (HTTP 409) with the item as it is now, never a silent
overwrite. When only the worker re-indexed the item in between (its upserts never touch ``review``, so the
review count is unchanged), the change goes through on the new version.

Example::

    item = await get_item(client, indices, item_id="twitter:1234")
    await update_review(client, indices, item_id="twitter:1234", actor=principal,
                        update=ReviewUpdate(version=item["version"], status=ReviewStatus.in_review))
"""

from __future__ import annotations

from typing import Any

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

from pipeline.dashboard.auth import get_user, now_iso
from pipeline.dashboard.errors import EditConflict, InvalidTransition, ItemNotFound
from pipeline.dashboard.indices import DashboardIndices
from pipeline.dashboard.models import (
    TRANSITIONS,
    BulkDismiss,
    BulkResult,
    Principal,
    ReviewStatus,
    ReviewUpdate,
    Role,
)
from pipeline.dashboard.search import item_version

MAX_ATTEMPTS = 3


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    src = dict(raw["_source"])
    review = dict(src.get("review") or {})
    review.setdefault("status", ReviewStatus.new.value)
    review.setdefault("assignee", None)
    review["history"] = list(review.get("history") or [])
    review["notes"] = list(review.get("notes") or [])
    src["review"] = review
    return {"id": raw["_id"], "version": item_version(raw), "seq_no": raw["_seq_no"],
            "primary_term": raw["_primary_term"], **src}


async def get_item(client: AsyncElasticsearch, indices: DashboardIndices, *, item_id: str) -> dict[str, Any]:
    """The item with its review (status, assignee, notes, history) and its current ``version``."""
    try:
        raw = await client.get(index=indices.flagged, id=item_id)
    except NotFoundError:
        raise ItemNotFound(f"no flagged item {item_id!r}") from None
    return _item(raw)


def _parse_version(version: str) -> tuple[int, int, int]:
    try:
        seq_no, primary_term, reviews = (int(part) for part in version.split("."))
    except ValueError:
        raise EditConflict("the version is not one this server issued; reload the item", current=None) from None
    return seq_no, primary_term, reviews


async def _check_assignee(client: AsyncElasticsearch, indices: DashboardIndices, assignee: str) -> None:
    user = await get_user(client, indices, username=assignee)
    if user is None or user.get("disabled") or not Role(user["role"]).allows(Role.reviewer):
        raise InvalidTransition(f"{assignee!r} is not an active reviewer")


def _apply(item: dict[str, Any], update: ReviewUpdate, actor: Principal) -> dict[str, Any] | None:
    """The new review object, or None when the update changes nothing."""
    review = item["review"]
    old_status = ReviewStatus(review["status"]) if review["status"] in ReviewStatus.__members__ else ReviewStatus.new
    entry: dict[str, Any] = {"at": now_iso(), "by": actor.username}
    new = {"status": old_status.value, "assignee": review.get("assignee"), "notes": list(review["notes"]),
           "history": list(review["history"]), "updated_at": entry["at"], "updated_by": actor.username}
    if update.status is not None and update.status != old_status:
        if update.status not in TRANSITIONS[old_status]:
            raise InvalidTransition(f"an item that is {old_status.title} cannot become {update.status.title}")
        new["status"] = update.status.value
        entry.update({"from": old_status.value, "to": update.status.value})
        if update.status == ReviewStatus.in_review and not new["assignee"] and update.assignee is None:
            new["assignee"] = actor.username
    if update.assignee is not None:
        assignee = update.assignee.strip().lower() or None
        if assignee != review.get("assignee"):
            new["assignee"] = assignee
    if new["assignee"] != review.get("assignee"):
        entry["assignee"] = new["assignee"]
    if update.note and update.note.strip():
        new["notes"].append({"at": entry["at"], "by": actor.username, "text": update.note.strip()})
        entry["note"] = True
    if len(entry) == 2:
        return None
    new["history"].append(entry)
    return new


async def update_review(client: AsyncElasticsearch, indices: DashboardIndices, *, item_id: str,
                        update: ReviewUpdate, actor: Principal, refresh: bool = True) -> dict[str, Any]:
    """Apply ``update``; returns the item as saved. Raises EditConflict, InvalidTransition, ItemNotFound."""
    seq_no, primary_term, reviews_seen = _parse_version(update.version)
    if update.assignee:
        await _check_assignee(client, indices, update.assignee.strip().lower())
    for _ in range(MAX_ATTEMPTS):
        item = await get_item(client, indices, item_id=item_id)
        same_doc = (item["seq_no"], item["primary_term"]) == (seq_no, primary_term)
        if not same_doc and len(item["review"]["history"]) != reviews_seen:
            raise EditConflict("someone else reviewed this item since you opened it", current=item)
        new_review = _apply(item, update, actor)
        if new_review is None:
            return item
        try:
            await client.update(index=indices.flagged, id=item_id, doc={"review": new_review},
                                if_seq_no=item["seq_no"], if_primary_term=item["primary_term"],
                                refresh=refresh)
        except ConflictError:
            continue  # changed between our read and write: read again and re-check
        except NotFoundError:
            raise ItemNotFound(f"no flagged item {item_id!r}") from None
        return await get_item(client, indices, item_id=item_id)
    raise EditConflict("the item keeps changing; reload it", current=await get_item(client, indices, item_id=item_id))


async def bulk_dismiss(client: AsyncElasticsearch, indices: DashboardIndices, *, request: BulkDismiss,
                       actor: Principal) -> BulkResult:
    """Dismiss each listed item at the version listed; items changed since are reported, not overwritten."""
    result = BulkResult(dismissed=[], conflicts=[], not_found=[], invalid=[])
    for item_id, version in request.items.items():
        update = ReviewUpdate(version=version, status=ReviewStatus.dismissed, note=request.note)
        try:
            await update_review(client, indices, item_id=item_id, update=update, actor=actor, refresh=False)
        except EditConflict:
            result.conflicts.append(item_id)
        except ItemNotFound:
            result.not_found.append(item_id)
        except InvalidTransition:
            result.invalid.append(item_id)
        else:
            result.dismissed.append(item_id)
    await client.indices.refresh(index=indices.flagged)
    return result

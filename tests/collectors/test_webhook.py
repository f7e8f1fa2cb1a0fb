"""The signed webhook: HMAC-SHA256 accepted/rejected, validation answers, delivery before the 202."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx

from pipeline.collectors.checkpoints import MemoryCheckpointStore
from pipeline.collectors.employees import EmployeeRegistry
from pipeline.collectors.matching import MatchRule, MentionMatcher
from pipeline.collectors.runner import CollectorRunner, ScheduledSource
from pipeline.collectors.sinks import JsonlMentionSink
from pipeline.collectors.webhook import WebhookCollector, sign
from tests.collectors.helpers import FAST, make_source

SECRET = "whsec-test"

LINKEDIN = {"source": "linkedin", "source_id": "urn:li:activity:7522590784308710642", "text": "Proud of the IMS team",
            "created_at": "2026-11-20T08:00:00+01:00", "url": "https://www.linkedin.com/feed/update/urn:li:activity:1",
            "author": {"handle": "jane-doe-123", "display_name": "Jane Doe"}, "reach": {"followers": 500, "likes": 40},
            "media_urls": ["https://media.licdn.com/a.jpg"]}
SNAP = {"source": "snapchat", "source_id": "snap-1", "text": "IMS party", "created_at": "2026-11-20T21:00:00Z",
        "author": {"handle": "partyperson"}}


async def _exercise(posts: list[tuple[bytes, dict[str, str]]]) -> tuple[list[httpx.Response], list[dict[str, Any]]]:
    source = make_source(WebhookCollector, base_url=None, name="hook", secrets={"signing_secret": SECRET}, port=0)
    assert isinstance(source, WebhookCollector)
    out = io.StringIO()
    runner = CollectorRunner([ScheduledSource(source, FAST)], sink=JsonlMentionSink(out),
                             checkpoints=MemoryCheckpointStore(), matcher=MentionMatcher([MatchRule.parse("ims", "IMS")]),
                             employees=EmployeeRegistry.from_csv_text("employee_id,network,handle\nE9,linkedin,jane-doe-123\n"))
    task = asyncio.create_task(runner.run())
    await asyncio.wait_for(source.ready.wait(), 10)
    responses = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{source.bound_port}") as client:
        for body, headers in posts:
            responses.append(await client.post("/webhook", content=body, headers=headers))
        assert (await client.get("/healthz")).status_code == 200
    runner.stop()
    await asyncio.wait_for(task, 10)
    return responses, [json.loads(line) for line in out.getvalue().splitlines()]


def test_signed_batches_are_accepted_and_everything_else_refused() -> None:
    hike = {**LINKEDIN, "source_id": "urn:li:activity:2", "text": "Weekend hike photos"}  # by an employee
    good = json.dumps({"mentions": [LINKEDIN, SNAP, {**SNAP, "source_id": "snap-2", "text": "unrelated"}, hike]}).encode()
    tampered = good.replace(b"Proud", b"Angry")
    single = json.dumps(LINKEDIN).encode()  # a re-delivery of the same post
    bad_item = json.dumps([{**SNAP, "source": "myspace"}, {"text": "x"}]).encode()
    responses, produced = asyncio.run(_exercise([
        (good, {"X-Signature-256": sign(good, SECRET), "Content-Type": "application/json"}),
        (tampered, {"X-Signature-256": sign(good, SECRET)}),
        (good, {}),
        (good, {"X-Signature-256": sign(good, "wrong-secret")}),
        (b"not json", {"X-Signature-256": sign(b"not json", SECRET)}),
        (bad_item, {"X-Signature-256": sign(bad_item, SECRET)}),
        (single, {"X-Signature-256": sign(single, SECRET).removeprefix("sha256=")}),
    ]))
    assert [r.status_code for r in responses] == [202, 401, 401, 401, 400, 422, 202]
    assert responses[0].json() == {"received": 4, "produced": 3}
    assert responses[6].json() == {"received": 1, "produced": 0}  # already produced: not again
    assert [e["index"] for e in responses[5].json()["items"]] == [0, 1]
    assert [m["source_id"] for m in produced] == ["urn:li:activity:7522590784308710642", "snap-1", "urn:li:activity:2"]
    assert produced[2]["matched_rule"] == "employee_account"  # kept: HR reviews employees' posts whatever they say
    linkedin = produced[0]
    assert linkedin["source"] == "linkedin" and linkedin["created_at"] == "2026-11-20T07:00:00.000000Z"
    assert linkedin["author"] == {"handle": "jane-doe-123", "display_name": "Jane Doe", "is_employee": True,
                                  "employee_id": "E9"}
    assert linkedin["reach"] == {"followers": 500, "likes": 40, "shares": None}
    assert linkedin["matched_rule"] == "ims" and linkedin["media_urls"] == ["https://media.licdn.com/a.jpg"]

from __future__ import annotations

import json

import pytest

from schemas.records import make_mention_id
from schemas.validation import InvalidRecord, parse_raw_mention
from tests.factories import raw_bytes, raw_mention


def test_valid_mention_gets_stable_id_and_utc_timestamps() -> None:
    mention = parse_raw_mention(raw_bytes(raw_mention(source_id="123", created_at="2026-11-20T11:15:00+01:00")))
    assert mention.mention_id == "twitter:123"
    assert mention.created_at == "2026-11-20T10:15:00.000000Z"
    assert mention.collected_at.endswith("Z")
    assert mention.author.handle.startswith("@person")
    assert mention.reach is not None and mention.reach.followers == 120


def test_mention_id_is_hashed_when_source_id_is_very_long() -> None:
    long_id = "at://did:plc:" + "x" * 400
    mention_id = make_mention_id("bluesky", long_id)
    assert mention_id.startswith("bluesky:sha256:") and len(mention_id) < 100
    assert make_mention_id("bluesky", long_id) == mention_id


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid UTF-8"),
        (b"[1, 2, 3]", "must be a JSON object, got array"),
        (raw_bytes({k: v for k, v in raw_mention().items() if k != "text"}), "missing field 'text'"),
        (raw_bytes({k: v for k, v in raw_mention().items() if k != "author"}), "missing field 'author'"),
        (raw_bytes(raw_mention(text=42)), "field 'text' must be a string, got int"),
        (raw_bytes(raw_mention(author={"handle": "@a", "is_employee": "yes"})), "'author.is_employee' must be a boolean"),
        (raw_bytes(raw_mention(reach={"followers": -3})), "'reach.followers' must be a non-negative integer"),
        (raw_bytes(raw_mention(created_at="last tuesday")), "not an ISO-8601 timestamp"),
        (raw_bytes(raw_mention(schema_version=99)), "unsupported schema_version 99"),
        (raw_bytes(raw_mention(source="myspace")), "unknown source 'myspace'"),
        (raw_bytes(raw_mention(text="x" * 1_048_576)), "too long: 1048576 characters"),
        (raw_bytes(raw_mention(mention_id="twitter:other")), "does not match source:source_id"),
    ],
)
def test_invalid_values_are_rejected_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        parse_raw_mention(payload)
    assert reason in err.value.reason


def test_optional_fields_may_be_absent() -> None:
    minimal = {"schema_version": 1, "source": "email", "source_id": "<a@b>", "text": "hello IMS",
               "created_at": "2026-11-01T00:00:00Z", "author": {"handle": "a@example.com"}}
    mention = parse_raw_mention(json.dumps(minimal).encode())
    assert mention.url is None and mention.reach is None and mention.media_urls == []
    assert mention.author.is_employee is False

"""Sending a record a stage gave up on to ``mentions.dead_letter``, with the reason and the original bytes."""

from __future__ import annotations

import base64
import logging

import faust

from schemas.records import SCHEMA_VERSION, DeadLetter
from schemas.validation import utc_now_iso

log = logging.getLogger(__name__)
PREVIEW_CHARS = 500


def _as_bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    return value if isinstance(value, bytes) else value.encode("utf-8")


async def send_dead_letter(
    topic: faust.TopicT, *, stage: str, reason: str, error_type: str, source_topic: str,
    partition: int | None, offset: int | None, key: bytes | str | None, payload: bytes | str,
) -> None:
    payload_bytes = _as_bytes(payload)
    key_text = _as_bytes(key).decode("utf-8", errors="replace") if key is not None else None
    letter = DeadLetter(
        schema_version=SCHEMA_VERSION, stage=stage, reason=reason, error_type=error_type,
        source_topic=source_topic, source_partition=partition, source_offset=offset, key=key_text,
        payload_b64=base64.b64encode(payload_bytes).decode("ascii"),
        payload_preview=payload_bytes[:PREVIEW_CHARS * 4].decode("utf-8", errors="replace")[:PREVIEW_CHARS],
        failed_at=utc_now_iso(),
    )
    log.warning("dead-letter from %s (key=%s, %s:%s): %s", stage, key_text, source_topic, offset, reason)
    await topic.send(key=key_text, value=letter)

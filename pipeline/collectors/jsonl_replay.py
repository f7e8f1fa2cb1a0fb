"""``JsonlReplayCollector``: replays a JSONL file of mentions (the bundled sample, an export, a test set).

Each line is a raw mention object (see ``schemas.records.RawMention``; ``mention_id`` and ``collected_at`` are
filled in when absent). A line that is not a JSON object is still produced, keyed by a hash of its bytes,
so the pipeline dead-letters it with the reason instead of the collector dropping it.

``JsonlReplaySource`` is the same reader as a runner source (``type: replay`` in the collectors YAML), so a
file goes through matching, employee linkage and checkpoints like any network.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from pipeline.collectors.base import CollectedRecord, Cursor, Page, PollSource, SourceOptions
from schemas.records import make_mention_id
from schemas.validation import utc_now_iso

log = logging.getLogger(__name__)


class JsonlReplayCollector:
    name = "replay"

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[CollectedRecord]:
        with self.path.open("rb") as lines:
            for raw_line in lines:
                line = raw_line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                yield self._record(line)

    @staticmethod
    def _record(line: bytes) -> CollectedRecord:
        try:
            obj = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("source"), str) and isinstance(obj.get("source_id"), str):
            obj.setdefault("mention_id", make_mention_id(obj["source"], obj["source_id"]))
            obj.setdefault("collected_at", utc_now_iso())
            return CollectedRecord(key=str(obj["mention_id"]),
                                   value=json.dumps(obj, ensure_ascii=False).encode("utf-8"))
        return CollectedRecord(key=f"unparsed:{hashlib.sha256(line).hexdigest()[:32]}", value=line)


class JsonlReplayOptions(SourceOptions):
    path: Path
    batch_size: int = Field(default=500, ge=1)


class JsonlReplaySource(PollSource):
    """The replay collector as a runner source (``type: replay`` in the collectors YAML): reads ``path`` in
    batches; the cursor is the byte offset after the last line produced, so a restart continues where the
    last acknowledged batch ended. Lines that are not mention objects are skipped with a warning (use
    ``ims-monitor replay`` to push such lines to the dead-letter topic on purpose)."""

    network = "replay"
    Options = JsonlReplayOptions
    options: JsonlReplayOptions

    def initial_cursor(self, channel: str) -> Cursor:
        return {"offset": 0}

    async def fetch(self, channel: str, cursor: Cursor, *, timeout_s: float) -> Page:
        return await asyncio.get_running_loop().run_in_executor(None, self._read, int(cursor.get("offset", 0)))

    def _read(self, offset: int) -> Page:
        mentions: list[dict[str, Any]] = []
        with self.options.path.open("rb") as lines:
            lines.seek(offset)
            while len(mentions) < self.options.batch_size:
                raw_line = lines.readline()
                if not raw_line:
                    return Page(mentions=mentions, cursor={"offset": lines.tell()}, more=False)
                record = JsonlReplayCollector._record(raw_line.rstrip(b"\r\n")) if raw_line.strip() else None
                if record is None:
                    continue
                if record.key.startswith("unparsed:"):
                    log.warning("%s: skipping a line that is not a mention at byte %d", self.options.path, offset)
                else:
                    mentions.append(json.loads(record.value))
                offset = lines.tell()
            return Page(mentions=mentions, cursor={"offset": lines.tell()}, more=True)

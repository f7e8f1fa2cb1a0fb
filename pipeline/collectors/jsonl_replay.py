"""``JsonlReplayCollector``: replays a JSONL file of mentions (the bundled sample, an export, a test set).

Each line is a raw mention object (see ``schemas.records.RawMention``; ``mention_id`` and ``collected_at`` are
filled in when absent). A line that is not a JSON object is still produced, keyed by a hash of its bytes,
so the pipeline dead-letters it with the reason instead of the collector dropping it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from pipeline.collectors.base import CollectedRecord
from schemas.records import make_mention_id
from schemas.validation import utc_now_iso


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

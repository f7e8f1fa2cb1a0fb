"""Persisted cursors: where each source's channels are, so a restart neither re-emits nor skips posts.

The runner commits a channel's cursor (and the ids it just produced) only after Kafka acknowledged the page
(``acks=all``). A crash between producing and committing re-produces that one page on restart, and the
recent-ids list removes it, so nothing is emitted twice and nothing is skipped.

``SqliteCheckpointStore`` keeps them in ``<state_dir>/checkpoints.sqlite3`` (one row per source and channel,
written in a transaction); ``MemoryCheckpointStore`` is for ``--dry-run``, which must not move cursors.
Inspect with ``sqlite3 <state_dir>/checkpoints.sqlite3 'select * from checkpoints'``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pipeline.collectors.base import Cursor
from schemas.validation import utc_now_iso

DEFAULT_SEEN_IDS = 5000
"""How many recently produced mention ids a channel remembers (covers overlap at the watermark)."""


@dataclass
class Checkpoint:
    cursor: Cursor
    seen: list[str] = field(default_factory=list)

    def remember(self, ids: Iterable[str], *, limit: int = DEFAULT_SEEN_IDS) -> list[str]:
        fresh = list(dict.fromkeys(ids))
        fresh_set = set(fresh)
        merged = [i for i in self.seen if i not in fresh_set] + fresh
        return merged[-limit:]


class CheckpointStore(Protocol):
    def load(self, source: str, channel: str) -> Checkpoint | None: ...

    def save(self, source: str, channel: str, checkpoint: Checkpoint) -> None: ...


class MemoryCheckpointStore:
    """Cursors held in memory for one run (``--dry-run``)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], str] = {}

    def load(self, source: str, channel: str) -> Checkpoint | None:
        raw = self._data.get((source, channel))
        return Checkpoint(**json.loads(raw)) if raw else None

    def save(self, source: str, channel: str, checkpoint: Checkpoint) -> None:
        self._data[(source, channel)] = json.dumps({"cursor": checkpoint.cursor, "seen": checkpoint.seen})


class SqliteCheckpointStore:
    """Cursors in a SQLite file; safe to share between the runner's threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS checkpoints (source TEXT NOT NULL, channel TEXT NOT NULL, "
            "cursor TEXT NOT NULL, seen TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (source, channel))"
        )

    def load(self, source: str, channel: str) -> Checkpoint | None:
        with self._lock:
            row = self._db.execute("SELECT cursor, seen FROM checkpoints WHERE source = ? AND channel = ?",
                                   (source, channel)).fetchone()
        if row is None:
            return None
        return Checkpoint(cursor=json.loads(row[0]), seen=json.loads(row[1]))

    def save(self, source: str, channel: str, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO checkpoints (source, channel, cursor, seen, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (source, channel) DO UPDATE SET cursor = excluded.cursor, seen = excluded.seen, "
                "updated_at = excluded.updated_at",
                (source, channel, json.dumps(checkpoint.cursor), json.dumps(checkpoint.seen), utc_now_iso()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

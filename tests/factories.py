"""Small factories for test data: raw mentions as collectors produce them."""

from __future__ import annotations

import itertools
import json
from typing import Any

_ids = itertools.count(1)


def raw_mention(text: str = "Great service from IMS today", **overrides: Any) -> dict[str, Any]:
    """A valid raw-mention object (as on ``mentions.raw``), unique source_id unless overridden."""
    n = next(_ids)
    mention: dict[str, Any] = {
        "schema_version": 1,
        "source": "twitter",
        "source_id": f"18{n:08d}",
        "url": f"https://twitter.com/someone/status/18{n:08d}",
        "text": text,
        "created_at": "2026-11-20T10:15:00Z",
        "lang": "en",
        "author": {"handle": f"@person{n}", "display_name": f"Person {n}", "is_employee": False},
        "reach": {"followers": 120, "likes": 3, "shares": 1},
        "media_urls": [],
    }
    mention.update(overrides)
    return mention


def raw_bytes(mention: dict[str, Any]) -> bytes:
    return json.dumps(mention).encode("utf-8")

"""Validation at the pipeline's edge: bytes from ``mentions.raw`` become a ``RawMention`` or a clear error.

Pure functions, no I/O. Errors::

    InvalidRecord          the value cannot become the record; ``reason`` says what and where
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from schemas.records import SOURCES, SUPPORTED_SCHEMA_VERSIONS, Author, RawMention, Reach, make_mention_id

DEFAULT_MAX_TEXT_CHARS = 50_000
MAX_URL_CHARS = 4_096
MAX_MEDIA_URLS = 50


class InvalidRecord(ValueError):
    """A value that does not satisfy its record's contract."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def normalise_timestamp(value: Any, *, field: str) -> str:
    """An ISO-8601 timestamp (any offset; naive means UTC) as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    if not isinstance(value, str) or not value:
        raise InvalidRecord(f"field '{field}' must be an ISO-8601 timestamp string, got {_type(value)}", field=field)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRecord(f"field '{field}' is not an ISO-8601 timestamp: {value[:40]!r}", field=field) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_raw_mention(data: bytes, *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> RawMention:
    """Decode and validate one ``mentions.raw`` value. Raises :class:`InvalidRecord`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"value is not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRecord(f"value is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(obj, dict):
        raise InvalidRecord(f"value must be a JSON object, got {_type(obj)}")
    return raw_mention_from_dict(obj, max_text_chars=max_text_chars)


def raw_mention_from_dict(obj: dict[str, Any], *, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> RawMention:
    """Validate a decoded mention object; fills ``mention_id`` and ``collected_at`` when absent."""
    version = obj.get("schema_version", None)
    if version is None:
        raise InvalidRecord("missing field 'schema_version'", field="schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in SUPPORTED_SCHEMA_VERSIONS:
        raise InvalidRecord(
            f"unsupported schema_version {version!r} (supported: {sorted(SUPPORTED_SCHEMA_VERSIONS)})",
            field="schema_version",
        )
    source = _required_str(obj, "source")
    if source not in SOURCES:
        raise InvalidRecord(f"unknown source {source[:40]!r} (known: {', '.join(sorted(SOURCES))})", field="source")
    source_id = _required_str(obj, "source_id")
    text = _required_str(obj, "text", allow_empty=True)
    if len(text) > max_text_chars:
        raise InvalidRecord(f"field 'text' is too long: {len(text)} characters > {max_text_chars}", field="text")
    created_at = normalise_timestamp(obj.get("created_at"), field="created_at")
    collected_raw = obj.get("collected_at")
    collected_at = normalise_timestamp(collected_raw, field="collected_at") if collected_raw else utc_now_iso()
    expected_id = make_mention_id(source, source_id)
    mention_id = obj.get("mention_id", expected_id)
    if mention_id != expected_id:
        raise InvalidRecord(f"mention_id {str(mention_id)[:60]!r} does not match source:source_id", field="mention_id")
    return RawMention(
        schema_version=version, mention_id=mention_id, source=source, source_id=source_id, text=text,
        created_at=created_at, collected_at=collected_at, author=_author(obj.get("author")),
        url=_optional_url(obj.get("url")), lang=_optional_str(obj, "lang"), reach=_reach(obj.get("reach")),
        media_urls=_media_urls(obj.get("media_urls")), matched_rule=_optional_str(obj, "matched_rule"),
        fingerprint=None,
    )


def _type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _required_str(obj: dict[str, Any], field: str, *, allow_empty: bool = False, where: str = "") -> str:
    name = f"{where}{field}"
    if field not in obj:
        raise InvalidRecord(f"missing field '{name}'", field=name)
    value = obj[field]
    if not isinstance(value, str):
        raise InvalidRecord(f"field '{name}' must be a string, got {_type(value)}", field=name)
    if not allow_empty and not value.strip():
        raise InvalidRecord(f"field '{name}' must not be empty", field=name)
    return value


def _optional_str(obj: dict[str, Any], field: str, *, where: str = "") -> str | None:
    value = obj.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field '{where}{field}' must be a string or null, got {_type(value)}", field=field)
    return value


def _optional_url(value: Any, *, field: str = "url") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"field '{field}' must be a string or null, got {_type(value)}", field=field)
    if len(value) > MAX_URL_CHARS:
        raise InvalidRecord(f"field '{field}' is longer than {MAX_URL_CHARS} characters", field=field)
    return value


def _author(value: Any) -> Author:
    if value is None:
        raise InvalidRecord("missing field 'author'", field="author")
    if not isinstance(value, dict):
        raise InvalidRecord(f"field 'author' must be an object, got {_type(value)}", field="author")
    is_employee = value.get("is_employee", False)
    if not isinstance(is_employee, bool):
        raise InvalidRecord(
            f"field 'author.is_employee' must be a boolean, got {_type(is_employee)}", field="author.is_employee"
        )
    return Author(
        handle=_required_str(value, "handle", where="author."),
        display_name=_optional_str(value, "display_name", where="author."),
        is_employee=is_employee,
        employee_id=_optional_str(value, "employee_id", where="author."),
    )


def _reach(value: Any) -> Reach | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRecord(f"field 'reach' must be an object, got {_type(value)}", field="reach")
    counts: dict[str, int | None] = {}
    for name in ("followers", "likes", "shares"):
        count = value.get(name)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            raise InvalidRecord(f"field 'reach.{name}' must be a non-negative integer or null", field=f"reach.{name}")
        counts[name] = count
    return Reach(**counts)


def _media_urls(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRecord(f"field 'media_urls' must be an array, got {_type(value)}", field="media_urls")
    if len(value) > MAX_MEDIA_URLS:
        raise InvalidRecord(f"field 'media_urls' has more than {MAX_MEDIA_URLS} entries", field="media_urls")
    return [_optional_url(url, field="media_urls[]") or "" for url in value if url is not None]

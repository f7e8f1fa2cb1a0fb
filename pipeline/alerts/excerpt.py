"""Short, trimmed and redacted excerpts of posts for e-mails: enough to triage, never the whole post.

An alert travels further than the dashboard (mail servers, phones, forwarded threads), so the excerpt is cut
around what the classifier found, and contact details that often are the very breach (a colleague's phone
number, e-mail address or postcode, a National Insurance number) are replaced by a placeholder.

Example::

    >>> make_excerpt("Call Jo on 07700 900123, she's  useless", spans=["useless"], max_chars=80)
    "Call Jo on [number], she's useless"
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ELLIPSIS = "…"
MAX_REASON_CHARS = 60

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NI_NUMBER = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b")
_SORT_CODE = re.compile(r"\b\d{2}-\d{2}-\d{2}\b")
_LONG_NUMBER = re.compile(r"(?<![\w.])\+?\d[\d ()-]{6,}\d(?![\w])")
MIN_REDACTED_DIGITS = 9


def _redact_number(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return "[number]" if digits >= MIN_REDACTED_DIGITS else match.group(0)


def redact(text: str) -> str:
    """Replace e-mail addresses, phone/account numbers, NI numbers and UK postcodes with placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _NI_NUMBER.sub("[NI number]", text)
    text = _POSTCODE.sub("[postcode]", text)
    text = _SORT_CODE.sub("[number]", text)
    return _LONG_NUMBER.sub(_redact_number, text)


def make_excerpt(text: str, *, spans: Iterable[str] = (), max_chars: int = 240) -> str:
    """At most ``max_chars`` characters of ``text``, whitespace collapsed, redacted, cut on word boundaries.

    When the post is longer, the window starts a little before the first of ``spans`` found in it (the words
    that drove a label), so the reader sees why it was flagged.
    """
    clean = redact(" ".join(text.split()))
    if len(clean) <= max_chars:
        return clean
    lower = clean.lower()
    hits = [pos for span in spans if span and (pos := lower.find(redact(span).lower())) >= 0]
    start = max(0, min(hits) - max_chars // 4) if hits else 0
    if start > 0:
        space = clean.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    budget = max_chars - 2  # room for the ellipses
    end = min(len(clean), start + budget)
    if end == len(clean):
        start = max(0, end - budget)
    elif (space := clean.rfind(" ", start, end)) > start + budget // 2:
        end = space
    body = clean[start:end].strip()
    return f"{ELLIPSIS if start > 0 else ''}{body}{ELLIPSIS if end < len(clean) else ''}"


def trim_reason(span: str) -> str:
    """One explanation span, redacted and shortened for the 'why' line of an e-mail."""
    clean = redact(" ".join(span.split()))
    return clean if len(clean) <= MAX_REASON_CHARS else clean[:MAX_REASON_CHARS - 1] + ELLIPSIS

"""Text normalisation and the de-duplication fingerprint.

``normalise_text`` is what the pipeline stores and classifies: Unicode NFC, control and bidi-override
characters removed (they hide text from reviewers), whitespace runs collapsed. ``fingerprint`` is coarser:
two posts with the same fingerprint are the same content from the same author (a cross-post, a re-delivery
under another id), whatever their URLs, case or punctuation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from schemas.records import RawMention

_CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_URL = re.compile(r"https?://\S+")
_NON_WORD = re.compile(r"[^\w@#]+")


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def fingerprint(mention: RawMention) -> str:
    """Hash of the author's handle and the text without URLs, case, punctuation or spacing."""
    content = _NON_WORD.sub(" ", _URL.sub(" ", unicodedata.normalize("NFKC", mention.text).casefold())).split()
    author = mention.author.handle.casefold().lstrip("@")
    digest = hashlib.sha256(f"{author}\x1f{' '.join(content)}".encode()).hexdigest()
    return digest[:32]

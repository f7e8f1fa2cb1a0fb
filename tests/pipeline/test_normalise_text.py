from __future__ import annotations

from pipeline.normalise.text import fingerprint, normalise_text
from schemas.validation import raw_mention_from_dict
from tests.factories import raw_mention


def test_normalise_removes_bidi_overrides_and_control_characters() -> None:
    assert normalise_text("IMS\u202e evil\u202c  rocks\x00\t!") == "IMS evil rocks !"


def test_normalise_keeps_paragraphs_but_collapses_blank_runs() -> None:
    assert normalise_text("  line one \n\n\n\n line two  ") == "line one\n\nline two"


def test_fingerprint_ignores_urls_case_and_punctuation_but_not_author() -> None:
    a = raw_mention_from_dict(raw_mention("IMS lost my claim!! https://t.co/abc", author={"handle": "@Joe"}))
    b = raw_mention_from_dict(raw_mention("ims LOST my claim https://t.co/xyz", author={"handle": "@joe"}))
    c = raw_mention_from_dict(raw_mention("IMS lost my claim", author={"handle": "@someone_else"}))
    d = raw_mention_from_dict(raw_mention("IMS found my claim", author={"handle": "@joe"}))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(c)
    assert fingerprint(a) != fingerprint(d)

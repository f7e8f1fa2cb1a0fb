from __future__ import annotations

import pytest

from pipeline.collectors.errors import QuerySyntaxError
from pipeline.collectors.matching import MatchRule, MentionMatcher

IMS = '("IMS" OR "Incident Management Solutions" OR @IMS_UK) AND NOT ("IP Multimedia" OR Indianapolis)'


@pytest.mark.parametrize(("text", "author", "expected"), [
    ("Loved the IMS stand at the expo", "someone", True),
    ("IMS's new office is open", "someone", True),
    ("Working at #IMS is great", "someone", True),
    ("incident management solutions were late again", "someone", True),
    ("Incident-Management  Solutions, again", "someone", True),
    ("thanks @IMS_UK for the help", "someone", True),
    ("thanks @ims_uk for the help", "someone", True),
    ("a post by the company itself", "@IMS_UK", True),
    ("IMS core in the IP Multimedia Subsystem", "someone", False),
    ("IMS race results from Indianapolis", "someone", False),
    ("The SIMS 4 expansion", "someone", False),
    ("thanks @IMS_UKfoo", "someone", False),
    ("emailing ops@IMS_UK.com", "someone", False),
    ("nothing relevant here", "someone", False),
])
def test_the_issue_example_query(text: str, author: str, expected: bool) -> None:
    assert MatchRule.parse("ims", IMS).matches(text, author=author) is expected


def test_precedence_implicit_and_case_wildcards_hashtags_and_authors() -> None:
    def m(query: str, text: str, author: str = "a") -> bool:
        return MatchRule.parse("r", query).matches(text, author=author)

    assert m("a OR b c", "only a")              # a OR (b AND c)
    assert not m("(a OR b) c", "only a")
    assert m("NOT spam IMS", "IMS news")
    assert not m("NOT spam IMS", "IMS spam")
    assert m("{IMS}", "IMS rocks") and not m("{IMS}", "ims rocks")
    assert m('{"Incident Management"}', "Incident Management") and not m('{"Incident Management"}', "incident management")
    assert m("manag*", "Managers said") and not m("manag*", "mismanaged")
    assert m("#IMSUK", "love #imsuk") and not m("#IMSUK", "love IMSUK") and not m("#IMSUK", "love #IMSUKX")
    assert m("author:jane_doe", "anything", author="@Jane_Doe") and not m("author:jane_doe", "jane_doe", author="x")


@pytest.mark.parametrize(("query", "position", "message"), [
    ("", 0, "empty query"),
    ("(IMS OR x", 9, "never closed"),
    ("IMS AND", 7, "expected a term after AND"),
    ("OR IMS", 0, "found operator OR"),
    ('IMS AND "IP Multi', 8, "unterminated phrase"),
    ("IMS )", 4, "no matching '('"),
    ("IMS AND ()", 9, "empty parentheses"),
    ("IMS NOT", 7, "expected a term after NOT"),
    ("{IMS", 0, "unterminated case-sensitive"),
    ("IMS AND @", 8, "invalid handle"),
    ("ma*nag", 2, "'*' is only allowed"),
])
def test_errors_point_at_the_position(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        MatchRule.parse("bad", query)
    assert info.value.position == position
    assert message in str(info.value)
    caret_line = str(info.value).splitlines()[-1]
    assert caret_line.index("^") - 2 == position


def test_matcher_records_the_first_matching_rule_and_drops_the_rest() -> None:
    matcher = MentionMatcher([
        MatchRule.parse("employee-handle", "@IMS_UK"),
        MatchRule.parse("brand", IMS),
        MatchRule.parse("reddit-only", "outage", sources=["reddit"]),
    ])
    def mention(text: str, source: str = "twitter") -> dict:
        return {"text": text, "source": source, "author": {"handle": "someone"}}

    first = mention("@IMS_UK and IMS")
    assert matcher.apply(first) and first["matched_rule"] == "employee-handle"
    second = mention("IMS again")
    assert matcher.apply(second) and second["matched_rule"] == "brand"
    assert not matcher.apply(mention("big outage"))
    third = mention("big outage", source="reddit")
    assert matcher.apply(third) and third["matched_rule"] == "reddit-only"
    everything = mention("anything")
    assert MentionMatcher([]).apply(everything) and everything.get("matched_rule") is None

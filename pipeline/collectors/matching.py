"""Mention matching: boolean queries as social-listening tools write them.

Grammar (operators in capitals; precedence NOT > AND > OR; juxtaposition means AND)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := "NOT" unary | primary
    primary := "(" or ")" | "phrase words" | {CaseSensitive} | {"Case Sensitive phrase"}
             | @handle | #hashtag | author:handle | word | prefix*

Rules: terms and phrases match whole words only (``IMS`` matches "IMS's" and "#IMS", not "SIMS" or
"@IMS_UK"), case-insensitively unless written in braces (``{IMS}`` matches "IMS" but not "ims"); words in a
phrase may be separated by any run of spaces or punctuation; ``manag*`` matches any word starting "manag";
``@IMS_UK`` matches a mention of that handle in the text or a post by that account; ``#tag`` matches the
hashtag; ``author:name`` matches only the author.

Example::

    rule = MatchRule.parse("ims", '("IMS" OR "Incident Management Solutions" OR @IMS_UK) '
                                  'AND NOT ("IP Multimedia" OR Indianapolis)')
    rule.matches("Loved the IMS stand", author="someone")                  # True
    rule.matches("IMS core in the IP Multimedia Subsystem", author="x")     # False

A query that does not parse raises ``QuerySyntaxError`` whose message points at the position.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.collectors.errors import QuerySyntaxError

_OPERATORS = frozenset({"AND", "OR", "NOT"})
_WORD_CHARS = r"[^\s()\"{}]"


# -------------------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class _Token:
    kind: str  # LPAREN RPAREN AND OR NOT TERM PHRASE CASED HANDLE HASHTAG AUTHOR END
    value: str
    position: int


_WORD = re.compile(rf"{_WORD_CHARS}+")


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            tokens.append(_Token("LPAREN" if ch == "(" else "RPAREN", ch, i))
            i += 1
        elif ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unterminated phrase: missing closing '\"'", query=query, position=i)
            phrase = query[i + 1:end].strip()
            if not phrase:
                raise QuerySyntaxError("empty phrase", query=query, position=i)
            tokens.append(_Token("PHRASE", phrase, i))
            i = end + 1
        elif ch == "{":
            end = query.find("}", i + 1)
            if end < 0:
                raise QuerySyntaxError("unterminated case-sensitive term: missing closing '}'", query=query,
                                       position=i)
            inner = query[i + 1:end].strip().strip('"').strip()
            if not inner:
                raise QuerySyntaxError("empty case-sensitive term", query=query, position=i)
            tokens.append(_Token("CASED", inner, i))
            i = end + 1
        elif ch == "}":
            raise QuerySyntaxError("unexpected '}'", query=query, position=i)
        else:
            word = _WORD.match(query, i)
            assert word is not None
            text = word.group(0)
            tokens.append(_classify_word(text, i, query))
            i = word.end()
    tokens.append(_Token("END", "", len(query)))
    return tokens


def _classify_word(text: str, position: int, query: str) -> _Token:
    if text in _OPERATORS:
        return _Token(text, text, position)
    if text.startswith("@"):
        handle = text[1:]
        if not re.fullmatch(r"[\w.\-]+(@[\w.\-]+)?", handle):
            raise QuerySyntaxError(f"invalid handle {text!r}", query=query, position=position)
        return _Token("HANDLE", handle, position)
    if text.startswith("#"):
        if not re.fullmatch(r"\w+", text[1:]):
            raise QuerySyntaxError(f"invalid hashtag {text!r}", query=query, position=position)
        return _Token("HASHTAG", text[1:], position)
    if text.lower().startswith("author:"):
        handle = text[len("author:"):].lstrip("@")
        if not handle:
            raise QuerySyntaxError("author: needs a handle", query=query, position=position)
        return _Token("AUTHOR", handle, position)
    if "*" in text[:-1] or text == "*":
        raise QuerySyntaxError("'*' is only allowed at the end of a word", query=query,
                               position=position + max(text.find("*"), 0))
    return _Token("TERM", text, position)


# ---------------------------------------------------------------------------------------------------- nodes
@dataclass(frozen=True)
class _Doc:
    text: str
    author: str


class _Node:
    def evaluate(self, doc: _Doc) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _Pattern(_Node):
    pattern: re.Pattern[str]
    author: str | None = None  # also true when the post is by this handle (casefolded, no '@')

    def evaluate(self, doc: _Doc) -> bool:
        if self.author is not None and doc.author == self.author:
            return True
        return self.pattern.search(doc.text) is not None


@dataclass(frozen=True)
class _Author(_Node):
    handle: str

    def evaluate(self, doc: _Doc) -> bool:
        return doc.author == self.handle


@dataclass(frozen=True)
class _Not(_Node):
    child: _Node

    def evaluate(self, doc: _Doc) -> bool:
        return not self.child.evaluate(doc)


@dataclass(frozen=True)
class _And(_Node):
    children: tuple[_Node, ...]

    def evaluate(self, doc: _Doc) -> bool:
        return all(c.evaluate(doc) for c in self.children)


@dataclass(frozen=True)
class _Or(_Node):
    children: tuple[_Node, ...]

    def evaluate(self, doc: _Doc) -> bool:
        return any(c.evaluate(doc) for c in self.children)


def _words_pattern(words: str, *, case_sensitive: bool) -> re.Pattern[str]:
    parts = words.split()
    pieces = []
    for n, part in enumerate(parts):
        wildcard = part.endswith("*") and n == len(parts) - 1
        core = re.escape(part.rstrip("*") if wildcard else part)
        pieces.append(core + (r"\w*" if wildcard else ""))
    body = r"[\W_]+".join(pieces)
    return re.compile(rf"(?<!\w){body}(?!\w)", 0 if case_sensitive else re.IGNORECASE)


def normalise_handle(handle: str) -> str:
    """Handles compare case-insensitively and without the leading '@'."""
    return handle.strip().lstrip("@").casefold()


# --------------------------------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokenize(query)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, token: _Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, query=self.query, position=token.position)

    def parse(self) -> _Node:
        if self.peek().kind == "END":
            raise self.error("empty query", self.peek())
        node = self.parse_or()
        token = self.peek()
        if token.kind == "RPAREN":
            raise self.error("unexpected ')' with no matching '('", token)
        if token.kind != "END":
            raise self.error(f"unexpected {token.value!r}", token)
        return node

    def parse_or(self) -> _Node:
        children = [self.parse_and()]
        while self.peek().kind == "OR":
            operator = self.take()
            children.append(self.parse_and(after=operator))
        return children[0] if len(children) == 1 else _Or(tuple(children))

    def parse_and(self, after: _Token | None = None) -> _Node:
        children = [self.parse_unary(after)]
        while self.peek().kind in {"AND", "NOT", "LPAREN", "TERM", "PHRASE", "CASED", "HANDLE", "HASHTAG",
                                   "AUTHOR"}:
            operator = self.take() if self.peek().kind == "AND" else None
            children.append(self.parse_unary(operator))
        return children[0] if len(children) == 1 else _And(tuple(children))

    def parse_unary(self, after: _Token | None = None) -> _Node:
        if self.peek().kind == "NOT":
            operator = self.take()
            return _Not(self.parse_unary(operator))
        return self.parse_primary(after)

    def parse_primary(self, after: _Token | None) -> _Node:
        token = self.take()
        kind = token.kind
        if kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise self.error("empty parentheses", self.peek())
            node = self.parse_or()
            if self.peek().kind != "RPAREN":
                closing = self.peek()
                where = f"'(' at position {token.position} is never closed"
                raise self.error(f"expected ')': {where}" if closing.kind == "END"
                                 else f"expected ')' but found {closing.value!r}", closing)
            self.take()
            return node
        if kind in {"TERM", "PHRASE"}:
            return _Pattern(_words_pattern(token.value, case_sensitive=False))
        if kind == "CASED":
            return _Pattern(_words_pattern(token.value, case_sensitive=True))
        if kind == "HANDLE":
            pattern = re.compile(rf"(?<![\w@]){re.escape('@' + token.value)}(?![\w@])", re.IGNORECASE)
            return _Pattern(pattern, author=normalise_handle(token.value))
        if kind == "HASHTAG":
            return _Pattern(re.compile(rf"(?<![\w#]){re.escape('#' + token.value)}(?!\w)", re.IGNORECASE))
        if kind == "AUTHOR":
            return _Author(normalise_handle(token.value))
        if kind == "END":
            if after is not None:
                raise self.error(f"expected a term after {after.value}", token)
            raise self.error("expected a term", token)
        if kind == "RPAREN":
            raise self.error("unexpected ')'" + (f" after {after.value}" if after else ""), token)
        raise self.error(f"expected a term but found operator {token.value}", token)


def parse_query(query: str) -> _Node:
    """Parse a boolean query; raises ``QuerySyntaxError`` (with ``position``) when it does not parse."""
    return _Parser(query).parse()


# ---------------------------------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class MatchRule:
    """A named query, optionally limited to some networks (``RawMention.source`` values)."""

    name: str
    query: str
    node: _Node
    sources: frozenset[str] | None = None

    @classmethod
    def parse(cls, name: str, query: str, *, sources: Iterable[str] | None = None) -> MatchRule:
        return cls(name=name, query=query, node=parse_query(query),
                   sources=frozenset(sources) if sources else None)

    def matches(self, text: str, *, author: str = "", source: str | None = None) -> bool:
        if self.sources is not None and source is not None and source not in self.sources:
            return False
        return self.node.evaluate(_Doc(text=text, author=normalise_handle(author)))


class MentionMatcher:
    """Applies rules in order; a mention takes the name of the first rule it matches.

    With no rules every mention passes (``matched_rule`` stays null).
    """

    def __init__(self, rules: Sequence[MatchRule]) -> None:
        self.rules = list(rules)

    def match(self, mention: dict[str, Any]) -> str | None:
        author = (mention.get("author") or {}).get("handle") or ""
        text = mention.get("text") or ""
        for rule in self.rules:
            if rule.matches(text, author=author, source=mention.get("source")):
                return rule.name
        return None

    def apply(self, mention: dict[str, Any]) -> bool:
        """Set ``matched_rule``; False when rules exist and none matched (the mention is dropped)."""
        if not self.rules:
            return True
        name = self.match(mention)
        if name is None:
            return False
        mention["matched_rule"] = name
        return True

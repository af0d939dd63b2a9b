"""The search filter grammar, as MLflow's ``search_prompts(filter_string=...)`` takes it.

    name = 'qa'            name != 'qa'          name LIKE 'qa-%'      name ILIKE 'QA-%'
    name IN ('a', 'b')     name NOT IN ('a')     tags.team = 'a'       tags.`my key` LIKE 'x%'
    alias = 'production'   (prompthouse: prompts that have this alias)

Conditions are joined with ``AND`` (any case). Strings take single or double quotes;
a quote is doubled or backslash-escaped inside. ``LIKE`` is case-sensitive, ``ILIKE`` not.
"""

from __future__ import annotations

import re

from prompthouse.errors import InvalidArgumentError
from prompthouse.stores.base import SearchCondition

__all__ = ["parse_filter"]

_GRAMMAR = (
    "Filters look like: name = 'x', name LIKE 'qa-%', name ILIKE '%bot%', "
    "name IN ('a', 'b'), tags.team = 'search', tags.`my key` != 'x', alias = 'production'; "
    "joined with AND."
)

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]+`|[A-Za-z0-9_.\-]+|"[^"]+"))?)
    | (?P<op>!=|<>|=|\(|\)|,)
    )""",
    re.VERBOSE,
)

_OPS_BY_FIELD = {
    "name": {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
    "tag": {"=", "!=", "LIKE", "ILIKE"},
    "alias": {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"},
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidArgumentError(
                f"Invalid filter {text!r}: cannot read it at {text[pos:pos + 20]!r}. {_GRAMMAR}"
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unquote(literal: str) -> str:
    quote = literal[0]
    body = literal[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _field(ident: str, text: str) -> tuple[str, str | None]:
    lowered = ident.lower()
    if lowered in ("name", "alias"):
        return lowered, None
    if lowered.startswith("tags.") or lowered.startswith("tag."):
        key = ident.split(".", 1)[1]
        if key[:1] in "`\"" and key[-1:] == key[:1]:
            key = key[1:-1]
        if not key:
            raise InvalidArgumentError(f"Invalid filter {text!r}: empty tag key. {_GRAMMAR}")
        return "tag", key
    raise InvalidArgumentError(
        f"Invalid filter {text!r}: cannot filter on {ident!r}; "
        f"the fields are name, tags.<key> and alias. {_GRAMMAR}"
    )


def parse_filter(text: str | None) -> tuple[SearchCondition, ...]:
    """Parse a filter string into conditions; a malformed one raises with the grammar."""
    if text is None or not text.strip():
        return ()
    tokens = _tokens(text)
    conditions: list[SearchCondition] = []
    i = 0

    def expect(kind: str, what: str) -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i][0] != kind:
            found = tokens[i][1] if i < len(tokens) else "the end"
            raise InvalidArgumentError(
                f"Invalid filter {text!r}: expected {what}, found {found!r}. {_GRAMMAR}"
            )
        i += 1
        return tokens[i - 1][1]

    while True:
        field, key = _field(expect("ident", "a field"), text)
        if i < len(tokens) and tokens[i][0] == "op" and tokens[i][1] in ("=", "!=", "<>"):
            op = "!=" if tokens[i][1] in ("!=", "<>") else "="
            i += 1
        else:
            word = expect("ident", "a comparison (=, !=, LIKE, ILIKE, IN, NOT IN)").upper()
            if word == "NOT":
                if expect("ident", "IN").upper() != "IN":
                    raise InvalidArgumentError(f"Invalid filter {text!r}: expected NOT IN. "
                                               f"{_GRAMMAR}")
                word = "NOT IN"
            op = word
        if op not in _OPS_BY_FIELD[field]:
            allowed = ", ".join(sorted(_OPS_BY_FIELD[field]))
            raise InvalidArgumentError(
                f"Invalid filter {text!r}: {op} is not allowed on {field}; use {allowed}."
            )
        value: str | tuple[str, ...]
        if op in ("IN", "NOT IN"):
            if i >= len(tokens) or tokens[i] != ("op", "("):
                raise InvalidArgumentError(f"Invalid filter {text!r}: expected '(' after {op}. "
                                           f"{_GRAMMAR}")
            i += 1
            items = [_unquote(expect("string", "a quoted string"))]
            while i < len(tokens) and tokens[i] == ("op", ","):
                i += 1
                items.append(_unquote(expect("string", "a quoted string")))
            if i >= len(tokens) or tokens[i] != ("op", ")"):
                raise InvalidArgumentError(f"Invalid filter {text!r}: expected ')'. {_GRAMMAR}")
            i += 1
            value = tuple(items)
        else:
            value = _unquote(expect("string", "a quoted string"))
        conditions.append(SearchCondition(field=field, op=op, value=value, key=key))
        if i >= len(tokens):
            return tuple(conditions)
        if expect("ident", "AND").upper() != "AND":
            raise InvalidArgumentError(
                f"Invalid filter {text!r}: conditions are joined with AND (OR is not "
                f"supported). {_GRAMMAR}"
            )

"""Rest.li 2.0 query values, as LinkedIn's versioned API reads them (`X-Restli-Protocol-Version: 2.0.0`).

    dateRange=(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:31))
    accounts=List(urn%3Ali%3AsponsoredAccount%3A123)

Structure (`(`, `)`, `,`, `:`, `List(`) is literal; inside a value those characters must be
percent-encoded, so a URN is `urn%3Ali%3A...`. `decode` works on the raw (still encoded) text and raises
`RestliSyntaxError` where a reserved character is left unencoded, as LinkedIn answers 400 to it.
(The connector has its own encoder: the fake API does not share code with the client it tests.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

_RESERVED = ",():"


class RestliSyntaxError(ValueError):
    """A query value that is not valid Rest.li 2.0."""


def decode(text: str) -> Any:
    """A raw (percent-encoded) Rest.li 2.0 value -> dict / list / str."""
    value, end = _value(text, 0)
    if end != len(text):
        raise RestliSyntaxError(f"unexpected {text[end]!r} at position {end} in {text!r}")
    return value


def _value(text: str, pos: int) -> tuple[Any, int]:
    if text.startswith("List(", pos):
        return _sequence(text, pos + 5)
    if text.startswith("(", pos):
        return _record(text, pos + 1)
    end = pos
    while end < len(text) and text[end] not in _RESERVED:
        end += 1
    if end < len(text) and text[end] == ":":
        raise RestliSyntaxError(f"unencoded ':' in a value at position {end} of {text!r} (encode it as %3A)")
    return unquote(text[pos:end]), end


def _sequence(text: str, pos: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    if text.startswith(")", pos):
        return items, pos + 1
    while True:
        item, pos = _value(text, pos)
        items.append(item)
        if pos >= len(text):
            raise RestliSyntaxError(f"unclosed List( in {text!r}")
        if text[pos] == ")":
            return items, pos + 1
        if text[pos] != ",":
            raise RestliSyntaxError(f"unexpected {text[pos]!r} at position {pos} in {text!r}")
        pos += 1


def _record(text: str, pos: int) -> tuple[dict[str, Any], int]:
    record: dict[str, Any] = {}
    if text.startswith(")", pos):
        return record, pos + 1
    while True:
        colon = pos
        while colon < len(text) and text[colon] not in _RESERVED:
            colon += 1
        if colon >= len(text) or text[colon] != ":" or colon == pos:
            raise RestliSyntaxError(f"expected 'key:' at position {pos} in {text!r}")
        key = unquote(text[pos:colon])
        record[key], pos = _value(text, colon + 1)
        if pos >= len(text):
            raise RestliSyntaxError(f"unclosed ( in {text!r}")
        if text[pos] == ")":
            return record, pos + 1
        if text[pos] != ",":
            raise RestliSyntaxError(f"unexpected {text[pos]!r} at position {pos} in {text!r}")
        pos += 1

"""The API's one request parser: strict JSON that every database here can store."""

import codecs
import math

from django.utils.http import parse_header_parameters
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def storable_text(text: str) -> bool:
    """Whether every database here can store this string: PostgreSQL refuses NUL in text and jsonb, and
    a lone surrogate ("\ud800") cannot be encoded as UTF-8 at all."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")  # in C: a character-by-character scan in Python is slow on large bodies
    except UnicodeEncodeError:
        return False
    return True


def check_json_value(value):
    """Raise ParseError for nesting deeper than MAX_DEPTH, a string no database can store, or an
    overflowing number (1e400 parses as infinity, which JSON cannot hold).

    Iterative, so a hostile document cannot exhaust the stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not storable_text(item):
                raise ParseError("JSON parse error - strings may not contain NUL characters or unpaired surrogates.")
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise ParseError("JSON parse error - numbers must be finite.")
        if isinstance(item, dict):
            children = list(item.values()) + list(item.keys())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        stack.extend((child, depth + 1) for child in children)


def _is_utf8(charset):
    try:
        return codecs.lookup(charset).name == "utf-8"
    except LookupError:
        return False


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (which already refuses NaN and Infinity) plus check_json_value; Python's own
    decoder fails deep documents with RecursionError, which would otherwise be a 500.

    JSON is UTF-8 (RFC 8259, section 8.1): a body declared in another charset (utf-16, latin-1, or a
    codec such as zlib) is a 415. Decoding it as declared would let the same bytes mean one thing to a
    proxy or scanner that reads UTF-8 and another to this server."""

    def parse(self, stream, media_type=None, parser_context=None):
        _, params = parse_header_parameters(media_type or "")
        charset = params.get("charset")
        if charset is not None and not _is_utf8(charset):
            raise UnsupportedMediaType(media_type, detail="Request bodies must be JSON encoded as UTF-8.")
        parser_context = {**(parser_context or {}), "encoding": "utf-8"}
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        check_json_value(data)
        return data

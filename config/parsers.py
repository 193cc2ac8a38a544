"""The API's one request parser: strict JSON that every database here can store."""

import math

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32


def _storable(text):
    # PostgreSQL refuses NUL in text and jsonb; lone surrogates ("\ud800") cannot be encoded as UTF-8.
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
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
            if not _storable(item):
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


class StrictJSONParser(JSONParser):
    """DRF's JSON parser (which already refuses NaN and Infinity) plus check_json_value; Python's own
    decoder fails deep documents with RecursionError, which would otherwise be a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        check_json_value(data)
        return data

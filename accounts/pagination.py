"""Cursor pagination for every list: ``{"object": "list", "data", "has_more", "next_cursor"}``.

Keyset, not offset: the cursor holds the ordering values of the last row returned, so a page costs one
indexed range query however deep it is, and rows added meanwhile neither repeat nor vanish. DRF's
CursorPagination answers with links and a position-plus-offset cursor; clients of this API get an
opaque cursor string, as Stripe's do.
"""

import base64
import json
import re
from datetime import timezone as dt_timezone
from functools import reduce
from operator import or_

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.db.models import Q
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from api.parsers import storable_text

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
# Cursors this server issues are a few dozen characters; anything much longer was not issued here.
MAX_CURSOR_CHARS = 1024
# The OpenAPI format of a cursor: a string this server issued, not any string.
CURSOR_FORMAT = "cursor"
# ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() then refuses or misreads.
_LIMIT_RE = re.compile(r"[0-9]{1,5}")


def parse_limit(request):
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not _LIMIT_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationError({"limit": [f"Must be an integer from 1 to {MAX_LIMIT}."]})
    return int(raw)


def encode_cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(token: str):
    if len(token) > MAX_CURSOR_CHARS:
        raise ValidationError({"cursor": ["Invalid cursor."]})
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, TypeError, RecursionError):  # RecursionError: a forged, deeply nested cursor
        raise ValidationError({"cursor": ["Invalid cursor."]})


def cursor_value(field, value):
    """A value from a cursor, as ``field`` stores it; raises ValueError for anything this server could
    not have issued or the database could not compare (out-of-range integers, naive or overflowing
    datetimes, strings with NUL)."""
    try:
        value = field.to_python(value)
        field.run_validators(value)  # integer range of the column, max_length
    except (DjangoValidationError, TypeError, OverflowError):
        raise ValueError("not a value of this field") from None
    if value is None:
        raise ValueError("null")
    if isinstance(field, models.DateTimeField):
        if value.utcoffset() is None:
            raise ValueError("naive datetime")
        value = value.astimezone(dt_timezone.utc)  # OverflowError for 9999-12-31T23:59-14:00
    elif isinstance(value, str) and not storable_text(value):
        raise ValueError("unstorable string")
    return value


def list_response(data, has_more, next_cursor):
    return Response({"object": "list", "data": data, "has_more": has_more, "next_cursor": next_cursor})


class KeysetPagination(BasePagination):
    """Orders by ``ordering`` (model field names, "-" for descending; the last must be unique)."""

    ordering = ("-created_at", "-id")

    def __init__(self, ordering=None):
        if ordering is not None:
            self.ordering = tuple(ordering)

    def _fields(self, model):
        return [(name.lstrip("-"), name.startswith("-"), model._meta.get_field(name.lstrip("-"))) for name in self.ordering]

    def _after(self, fields, values):
        """Rows strictly after ``values`` in this ordering: (a, b) > (x, y) as a disjunction."""
        clauses = []
        for i, (name, descending, _) in enumerate(fields):
            equal = {prev: values[j] for j, (prev, _, _) in enumerate(fields[:i])}
            clauses.append(Q(**equal, **{f"{name}__{'lt' if descending else 'gt'}": values[i]}))
        return reduce(or_, clauses)

    def paginate_queryset(self, queryset, request, view=None):
        fields = self._fields(queryset.model)
        limit = parse_limit(request)
        queryset = queryset.order_by(*self.ordering)
        token = request.query_params.get("cursor")
        if token:
            values = decode_cursor(token)
            if not isinstance(values, list) or len(values) != len(fields):
                raise ValidationError({"cursor": ["Invalid cursor."]})
            try:
                values = [cursor_value(field, value) for (_, _, field), value in zip(fields, values)]
            except (ValueError, OverflowError):
                raise ValidationError({"cursor": ["Invalid cursor."]})
            queryset = queryset.filter(self._after(fields, values))
        rows = list(queryset[: limit + 1])
        self.has_more = len(rows) > limit
        rows = rows[:limit]
        self.next_cursor = None
        if self.has_more:
            last = rows[-1]
            self.next_cursor = encode_cursor([field.value_to_string(last) for (_, _, field) in fields])
        return rows

    def get_paginated_response(self, data):
        return list_response(data, self.has_more, self.next_cursor)

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["object", "data", "has_more", "next_cursor"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]},
                "data": schema,
                "has_more": {"type": "boolean"},
                "next_cursor": {"type": "string", "nullable": True},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
            {"name": "cursor", "in": "query", "required": False,
             "schema": {"type": "string", "format": CURSOR_FORMAT, "maxLength": MAX_CURSOR_CHARS},
             "description": "The next_cursor of the previous page (opaque: anything else is a 400)."},
        ]

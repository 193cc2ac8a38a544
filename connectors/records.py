"""Querying a dataset's records: field filters from the query string, ordering, cursor pages.

``?status=paid&amount__gte=10&order_by=-amount&limit=50``. A value is read as JSON when it parses
(``10``, ``true``, ``null``, ``"10"``), else as a string. Ordering by ``seq`` (insertion order, the
default) pages by keyset. Ordering by a field pages by position: records are append-only, so a
position is stable except for records appended meanwhile that sort before it.
"""

import json
import re

from django.db import transaction
from django.db.models import F
from django.db.models.fields.json import KeyTransform
from rest_framework.exceptions import ValidationError

from accounts.pagination import KeysetPagination, decode_cursor, encode_cursor, parse_limit
from connectors.models import Dataset, Record

RESERVED_PARAMS = {"limit", "cursor", "order_by"}
OPERATORS = {"": "exact", "ne": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "in": "in"}
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_FILTERS = 10
MAX_OFFSET = 100_000


def _json_value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _field_name(name, param):
    if not FIELD_RE.fullmatch(name) or "__" in name:
        raise ValidationError({param: ["Field names are letters, digits and single underscores, at most 64."]})
    return name


def filtered_records(dataset, params):
    queryset = Record.objects.filter(dataset=dataset)
    filters = [(param, value) for param, value in params.items() if param not in RESERVED_PARAMS]
    if len(filters) > MAX_FILTERS:
        raise ValidationError({"non_field_errors": [f"At most {MAX_FILTERS} filters."]})
    for param, raw in filters:
        name, _, op = param.partition("__")
        name = _field_name(name, param)
        if op not in OPERATORS:
            raise ValidationError({param: [f"Unknown operator {op!r}; use one of {', '.join(o for o in OPERATORS if o)}."]})
        if op == "in":
            value = [_json_value(part) for part in raw.split(",")]
        else:
            value = _json_value(raw)
        if isinstance(value, (dict, list)) and op != "in":
            raise ValidationError({param: ["Filter values are numbers, strings, booleans or null."]})
        # An explicit lookup name after the key, so a field called "contains" stays a key.
        condition = {f"data__{name}__{OPERATORS[op]}": value}
        queryset = queryset.exclude(**condition) if op == "ne" else queryset.filter(**condition)
    return queryset


def record_page(dataset, request):
    """One page of records as (records, has_more, next_cursor)."""
    params = request.query_params
    queryset = filtered_records(dataset, params)
    order_by = params.get("order_by", "seq")
    if order_by in ("seq", "-seq"):
        paginator = KeysetPagination(ordering=(order_by,))
        rows = paginator.paginate_queryset(queryset, request)
        return rows, paginator.has_more, paginator.next_cursor

    descending = order_by.startswith("-")
    name = _field_name(order_by.lstrip("-"), "order_by")
    key = KeyTransform(name, "data")
    ordering = (key.desc(nulls_last=True), F("seq").desc()) if descending else (key.asc(nulls_last=True), F("seq").asc())
    limit = parse_limit(request)
    offset = 0
    if params.get("cursor"):
        cursor = decode_cursor(params["cursor"])
        if not (isinstance(cursor, dict) and cursor.get("order_by") == order_by
                and isinstance(cursor.get("offset"), int) and 0 <= cursor["offset"] <= MAX_OFFSET):
            raise ValidationError({"cursor": ["Invalid cursor for this ordering."]})
        offset = cursor["offset"]
    rows = list(queryset.order_by(*ordering)[offset: offset + limit + 1])
    has_more = len(rows) > limit and offset + limit < MAX_OFFSET
    next_cursor = encode_cursor({"order_by": order_by, "offset": offset + limit}) if has_more else None
    return rows[:limit], has_more, next_cursor


def append_records(dataset, records):
    """Append records in one statement; returns the first new seq. Reserving the seq range with one
    UPDATE takes the dataset's row lock, so concurrent appends get disjoint ranges."""
    count = len(records)
    with transaction.atomic():
        Dataset.objects.filter(pk=dataset.pk).update(record_count=F("record_count") + count)
        dataset.refresh_from_db(fields=["record_count"])
        first_seq = dataset.record_count - count + 1
        Record.objects.bulk_create(
            Record(organization_id=dataset.organization_id, livemode=dataset.livemode, dataset=dataset,
                   seq=first_seq + i, data=data)
            for i, data in enumerate(records)
        )
    return first_seq


"""Querying a dataset's records: field filters from the query string, ordering, cursor pages.

``?status=paid&amount__gte=10&order_by=-amount&limit=50``. A value is read as JSON when it parses
(``10``, ``true``, ``null``, ``"10"``), else as a string. Values compare as JSON values, identically on
SQLite and PostgreSQL:

- equality (``field=v``, ``__ne``, ``__in``) holds only between values of the same JSON type: ``1`` is
  not ``true`` and not ``"1"``, but ``10`` is ``10.0``; ``null`` matches a null value, not a missing field;
- ``__gt``, ``__gte``, ``__lt``, ``__lte`` take a number or a string, and only compare with values of
  that type (strings by code point);
- a record without the field matches no filter, ``__ne`` included;
- an unknown or empty operator (``amount__x``, ``amount__``) is a 400 naming the parameter, and so is a
  whole number beyond the signed 64-bit range (see ``_number``). A stored number that a double cannot
  hold (more than 17 significant digits, or an integer beyond 64 bits that is not a double) is compared
  on SQLite as the double nearest to it, on PostgreSQL exactly.

Ordering by a field sorts numbers, then strings, then false, true, then arrays, then objects; records
whose value is null or missing come last, in both directions; ties go by seq. Naming a field that no
record of the dataset has is a 400 (a typo would otherwise order nothing, silently). Ordering by ``seq``
(insertion order, the default) pages by keyset. Ordering by a field pages by position: records are
append-only, so a position is stable except for records appended meanwhile that sort before it. A cursor
names its ordering and is refused with any other.
"""

import json
import math
import re
from functools import reduce
from operator import or_

from django.db import NotSupportedError, transaction
from django.db.models import F, FloatField, Func, IntegerField, Q, TextField, Value
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual
from rest_framework.exceptions import ValidationError

from api.pagination import decode_cursor, encode_cursor, parse_limit
from api.parsers import storable_text
from connectors.models import Dataset, Record

RESERVED_PARAMS = {"limit", "cursor", "order_by"}
OPERATORS = ("", "ne", "gt", "gte", "lt", "lte", "in")
RANGE_LOOKUPS = {"gt": GreaterThan, "gte": GreaterThanOrEqual, "lt": LessThan, "lte": LessThanOrEqual}
FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_FILTERS = 10
MAX_IN_VALUES = 100
MAX_OFFSET = 100_000
INT64 = 2**63


# -- SQL over one top-level key of Record.data, the same meaning on each database ---------------------


class _KeyFunc(Func):
    """An SQL fragment over ``data``'s top-level ``key``, written per database. ``{data}`` is the column,
    ``{key}`` a parameter holding the key (PostgreSQL) or its JSON path (SQLite)."""

    sqlite = postgresql = None

    def __init__(self, key):
        self.key = key
        super().__init__(F("data"))

    def as_sql(self, compiler, connection, **extra_context):
        template = getattr(self, connection.vendor, None)
        if template is None:
            raise NotSupportedError(f"Record queries run on SQLite and PostgreSQL, not {connection.vendor}.")
        data_sql, data_params = compiler.compile(self.source_expressions[0])
        key = f'$."{self.key}"' if connection.vendor == "sqlite" else self.key
        params = []

        def fill(match):
            if match.group(1) == "data":
                params.extend(data_params)
                return data_sql
            params.append(key)
            return "%s"

        return re.sub(r"\{(data|key)\}", fill, template), params


class TypeRank(_KeyFunc):
    """0 number, 1 string, 2 false, 3 true, 4 array, 5 object; NULL when the value is null or missing."""

    output_field = IntegerField()
    sqlite = ("CASE JSON_TYPE({data}, {key}) WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 "
              "WHEN 'false' THEN 2 WHEN 'true' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 END")
    postgresql = ("CASE jsonb_typeof({data} -> {key}) WHEN 'number' THEN 0 WHEN 'string' THEN 1 "
                  "WHEN 'boolean' THEN (CASE WHEN ({data} -> {key}) = 'true'::jsonb THEN 3 ELSE 2 END) "
                  "WHEN 'array' THEN 4 WHEN 'object' THEN 5 END")


class TypeCode(_KeyFunc):
    """As TypeRank, and 6 for null: NULL only when the field is missing. Equality tests the type with
    this first, so that a comparison of values only runs between values of one type (and is never NULL
    when the field is there: ``__ne`` can negate it)."""

    output_field = IntegerField()
    sqlite = ("CASE JSON_TYPE({data}, {key}) WHEN 'integer' THEN 0 WHEN 'real' THEN 0 WHEN 'text' THEN 1 "
              "WHEN 'false' THEN 2 WHEN 'true' THEN 3 WHEN 'array' THEN 4 WHEN 'object' THEN 5 "
              "WHEN 'null' THEN 6 END")
    postgresql = ("CASE jsonb_typeof({data} -> {key}) WHEN 'number' THEN 0 WHEN 'string' THEN 1 "
                  "WHEN 'boolean' THEN (CASE WHEN ({data} -> {key}) = 'true'::jsonb THEN 3 ELSE 2 END) "
                  "WHEN 'array' THEN 4 WHEN 'object' THEN 5 WHEN 'null' THEN 6 END")


NUMBER, STRING, FALSE, TRUE, NULL = 0, 1, 2, 3, 6


class NumberValue(_KeyFunc):
    """The value when it is a number, else NULL."""

    output_field = FloatField()
    sqlite = "CASE WHEN JSON_TYPE({data}, {key}) IN ('integer', 'real') THEN JSON_EXTRACT({data}, {key}) END"
    postgresql = "CASE WHEN jsonb_typeof({data} -> {key}) = 'number' THEN ({data} ->> {key})::numeric END"


class StringValue(_KeyFunc):
    """The value when it is a string, else NULL; compared by code point on both databases."""

    output_field = TextField()
    sqlite = "CASE WHEN JSON_TYPE({data}, {key}) = 'text' THEN JSON_EXTRACT({data}, {key}) END"
    postgresql = "CASE WHEN jsonb_typeof({data} -> {key}) = 'string' THEN ({data} ->> {key}) COLLATE \"C\" END"


# -- filters --------------------------------------------------------------------------------------------


def _invalid(param, message):
    return ValidationError({param: [message]})


def _reject_constant(name):
    raise ValueError(name)  # NaN, Infinity: not JSON, so read as a string


def _scalar(text, param):
    """A query-string value: JSON when it parses, else the text itself. Only scalars."""
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        value = text
    if isinstance(value, (dict, list)):
        raise _invalid(param, "Filter values are numbers, strings, booleans or null.")
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(param, "Numbers must be finite.")
    if isinstance(value, str):
        if not storable_text(value):
            raise _invalid(param, "Strings may not contain NUL characters or unpaired surrogates.")
    return value


def _field_name(name, param):
    if not FIELD_RE.fullmatch(name) or "__" in name:
        raise _invalid(param, "Field names are letters, digits and single underscores, at most 64.")
    return name


def _number(value, param):
    """A Value to compare numbers with, read alike by both databases. A whole number (``10``, ``1e18``)
    compares as a 64-bit integer, exactly on both. Beyond 64 bits SQLite reads a number as a double and
    PostgreSQL as an exact decimal (9223372036854775808 and 9.223372036854776e18 are one double, two
    decimals), so their answers would differ: such a whole number is refused. Any other number has a
    fraction, so it lies within ±2**52 and compares alike."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not -INT64 <= value < INT64:
        raise _invalid(param, f"Whole numbers to compare must lie within the signed 64-bit range, {-INT64} to "
                              f"{INT64 - 1}.")
    return Value(value, output_field=FloatField() if isinstance(value, float) else IntegerField())


def _is_type(name, code):
    return Q(Exact(TypeCode(name), Value(code, output_field=IntegerField())))


def _equal(name, value, param):
    """Equality of JSON values: the same type first, then (numbers, strings) the same value. Written out
    rather than Django's ``data__key=value``, which on SQLite takes ``true`` for ``"true"`` (both extract
    as the text 'true'): the type test comes first, so the result is never NULL for a present field."""
    if value is None:
        return _is_type(name, NULL)
    if isinstance(value, bool):
        return _is_type(name, TRUE if value else FALSE)
    if isinstance(value, str):
        return _is_type(name, STRING) & Q(Exact(StringValue(name), Value(value, output_field=TextField())))
    return _is_type(name, NUMBER) & Q(Exact(NumberValue(name), _number(value, param)))


def _condition(name, op, raw, param):
    """The Q for one filter."""
    if op == "in":
        values = [_scalar(part, param) for part in raw.split(",")]
        if len(values) > MAX_IN_VALUES:
            raise _invalid(param, f"At most {MAX_IN_VALUES} values.")
        # One equality per value, never SQL IN: Python's set semantics would merge true with 1 and
        # false with 0, and IN drops null.
        return reduce(or_, (_equal(name, value, param) for value in values))
    value = _scalar(raw, param)
    if op == "":
        return _equal(name, value, param)
    if op == "ne":
        return Q(data__has_key=name) & ~_equal(name, value, param)
    # gt, gte, lt, lte: numbers with numbers, strings with strings.
    if isinstance(value, bool) or value is None:
        raise _invalid(param, f"The '{op}' operator compares numbers or strings.")
    if isinstance(value, str):
        return Q(RANGE_LOOKUPS[op](StringValue(name), Value(value, output_field=TextField())))
    return Q(RANGE_LOOKUPS[op](NumberValue(name), _number(value, param)))


def filtered_records(dataset, params):
    queryset = Record.objects.filter(dataset=dataset)
    filters = [(param, raw) for param, values in params.lists() if param not in RESERVED_PARAMS for raw in values]
    if len(filters) > MAX_FILTERS:
        raise ValidationError({"non_field_errors": [f"At most {MAX_FILTERS} filters."]})
    for param, raw in filters:
        name, separator, op = param.partition("__")
        name = _field_name(name, param)
        if op not in OPERATORS or (separator and not op):  # "amount__" names no operator
            raise _invalid(param, f"Unknown operator {op!r}; use one of {', '.join(o for o in OPERATORS if o)}.")
        queryset = queryset.filter(_condition(name, op, raw, param))
    return queryset


# -- ordering and pages ----------------------------------------------------------------------------------


def _ordering(order_by):
    """(descending, field name or None for seq)."""
    descending = order_by.startswith("-")
    name = order_by[1:] if descending else order_by
    if name == "seq":
        return descending, None
    return descending, _field_name(name, "order_by")


def _cursor(params, order_by, key):
    """The cursor's position (an int under ``key``) if a cursor was given, else None."""
    token = params.get("cursor")
    if not token:
        return None
    cursor = decode_cursor(token)
    position = cursor.get(key) if isinstance(cursor, dict) else None
    if not (isinstance(cursor, dict) and cursor.get("order_by") == order_by and type(position) is int
            and 0 <= position <= (MAX_OFFSET if key == "offset" else INT64 - 1)):
        raise ValidationError({"cursor": ["Invalid cursor for this ordering."]})
    return position


def _require_field(dataset, name):
    """A 400 unless some record of the dataset has the field (a typo in ``order_by`` would otherwise
    order nothing, silently). Records without the field sort last, so a page whose first record has it
    proves it exists: this query runs only for an empty page or one that starts with records lacking the
    field. It stops at the first record that has it, reading the dataset's records in seq order (its
    index), so it costs at most one pass over the dataset, which ordering by a field makes anyway. A
    dataset without records yet accepts any name (there is nothing to misspell against)."""
    if dataset.record_count and not Record.objects.filter(dataset=dataset, data__has_key=name).exists():
        raise _invalid("order_by", f"No record of this dataset has a field {name!r}.")


def record_page(dataset, request):
    """One page of records as (records, has_more, next_cursor)."""
    params = request.query_params
    order_by = params.get("order_by", "seq")
    descending, name = _ordering(order_by)
    limit = parse_limit(request)
    queryset = filtered_records(dataset, params)

    if name is None:  # by seq: keyset
        after = _cursor(params, order_by, "after")
        if after is not None:
            queryset = queryset.filter(seq__lt=after) if descending else queryset.filter(seq__gt=after)
        rows = list(queryset.order_by("-seq" if descending else "seq")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor({"order_by": order_by, "after": rows[-1].seq}) if has_more else None
        return rows, has_more, next_cursor

    if descending:
        ordering = (TypeRank(name).desc(nulls_last=True), NumberValue(name).desc(), StringValue(name).desc(),
                    F("seq").desc())
    else:
        ordering = (TypeRank(name).asc(nulls_last=True), NumberValue(name).asc(), StringValue(name).asc(),
                    F("seq").asc())
    offset = _cursor(params, order_by, "offset") or 0
    rows = list(queryset.order_by(*ordering)[offset: offset + limit + 1])
    if not (rows and name in rows[0].data):
        _require_field(dataset, name)
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

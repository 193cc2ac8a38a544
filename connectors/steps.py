"""Workflow steps: validated declarations (select, filter, rename, mask) and the one function that
applies them to records.

Filters compare values as JSON values, as the records API does: a boolean is not a number (``true`` is
not ``1``), ``10`` equals ``10.0``, and ordering comparisons (gt, gte, lt, lte) hold only between two
numbers or two strings. A record without the field matches no filter but ``exists``. No comparison
raises, whatever the types."""

import json

from rest_framework import serializers

from api.fields import ChoiceField, not_one_of
from api.views import StrictSerializer

MAX_STEPS = 50
MAX_FIELDS_PER_STEP = 100
FIELD = dict(max_length=128)
ORDERED_OPERATORS = ("gt", "gte", "lt", "lte")


def field_list(**kwargs):
    return serializers.ListField(child=serializers.CharField(**FIELD), allow_empty=False,
                                 max_length=MAX_FIELDS_PER_STEP, **kwargs)


class SelectStep(StrictSerializer):
    """Keep only these fields."""

    type = ChoiceField(["select"])
    fields = field_list()


class FilterStep(StrictSerializer):
    """Keep records whose field compares true with value."""

    OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
    type = ChoiceField(["filter"])
    field = serializers.CharField(**FIELD)
    op = ChoiceField(OPERATORS, default="eq")
    value = serializers.JSONField(required=False, allow_null=True)

    def validate(self, attrs):
        op = attrs["op"]
        if op != "exists" and "value" not in attrs:
            raise serializers.ValidationError({"value": ["This field is required."]})
        if op == "in" and not isinstance(attrs["value"], list):
            raise serializers.ValidationError({"value": ["The 'in' operator needs a list."]})
        if op in ORDERED_OPERATORS and _kind(attrs["value"]) not in ("number", "string"):
            raise serializers.ValidationError({"value": [f"The '{op}' operator compares numbers or strings."]})
        return attrs


class RenameStep(StrictSerializer):
    type = ChoiceField(["rename"])
    fields = serializers.DictField(child=serializers.CharField(**FIELD), allow_empty=False)

    def validate_fields(self, mapping):
        if len(mapping) > MAX_FIELDS_PER_STEP:
            raise serializers.ValidationError(f"At most {MAX_FIELDS_PER_STEP} fields.")
        if any(not name or len(name) > FIELD["max_length"] for name in mapping):
            raise serializers.ValidationError(f"Field names are 1 to {FIELD['max_length']} characters.")
        if len(set(mapping.values())) != len(mapping):
            raise serializers.ValidationError("Two fields cannot be renamed to the same name.")
        return mapping


class MaskStep(StrictSerializer):
    """Replace values with asterisks, keeping the last ``keep_last`` characters."""

    type = ChoiceField(["mask"])
    fields = field_list()
    keep_last = serializers.IntegerField(min_value=0, max_value=8, default=0)


STEP_TYPES = {"select": SelectStep, "filter": FilterStep, "rename": RenameStep, "mask": MaskStep}


class StepListField(serializers.ListField):
    """An ordered list of steps, each validated by the serializer of its ``type``."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.DictField(), max_length=MAX_STEPS, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list) and len(data) > MAX_STEPS:  # before validating each of them
            self.fail("max_length", max_length=MAX_STEPS)
        items = super().to_internal_value(data)
        steps, errors = [], {}
        for index, item in enumerate(items):
            kind = item.get("type")
            step_class = STEP_TYPES.get(kind) if isinstance(kind, str) else None
            if step_class is None:
                errors[str(index)] = {"type": ["This field is required." if kind is None else not_one_of(STEP_TYPES, kind)]}
                continue
            step = step_class(data=item)
            if step.is_valid():
                steps.append(dict(step.validated_data))
            else:
                errors[str(index)] = step.errors
        if errors:
            raise serializers.ValidationError(errors)
        return steps


def _kind(value):
    """The JSON type of a value (bool before int: in Python, True is 1)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "other"


def json_equal(a, b):
    """Equality of JSON values: same type, and for arrays and objects the same members. Iterative, so
    deep values cannot exhaust the stack."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        kind = _kind(x)
        if kind != _kind(y):
            return False
        if kind == "array":
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y))
        elif kind == "object":
            if x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif x != y:
            return False
    return True


def _compare(op, actual, expected):
    if op == "eq":
        return json_equal(actual, expected)
    if op == "ne":
        return not json_equal(actual, expected)
    if op == "in":
        return isinstance(expected, list) and any(json_equal(actual, item) for item in expected)
    if op == "contains":  # a substring, an element of an array, a key of an object
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, list):
            return any(json_equal(item, expected) for item in actual)
        if isinstance(actual, dict):
            return isinstance(expected, str) and expected in actual
        return False
    kind = _kind(actual)
    if kind not in ("number", "string") or kind != _kind(expected):
        return False  # values of different types never match an ordering test
    if op == "gt":
        return actual > expected
    if op == "gte":
        return actual >= expected
    if op == "lt":
        return actual < expected
    return actual <= expected


def _mask(value, keep_last):
    """Asterisks for every character of the value (its JSON text if not a string) but the last
    ``keep_last``; never the whole value, however short."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if keep_last >= len(text):
        keep_last = 0
    kept = text[len(text) - keep_last:] if keep_last else ""
    return "*" * (len(text) - len(kept)) + kept


def _rename(record, mapping):
    """Rename fields in place of the old ones; a renamed field replaces one that already has its new name."""
    taken = {new for old, new in mapping.items() if old in record}
    renamed = {}
    for name, value in record.items():
        if name in mapping:
            renamed[mapping[name]] = value
        elif name not in taken:
            renamed[name] = value
    return renamed


def apply_steps(steps, records):
    """Run validated steps over an iterable of dicts, yielding the resulting dicts."""
    for record in records:
        record = dict(record)
        keep = True
        for step in steps:
            kind = step["type"]
            if kind == "select":
                record = {k: record[k] for k in step["fields"] if k in record}
            elif kind == "filter":
                present = step["field"] in record
                if step["op"] == "exists":
                    keep = present
                else:
                    keep = present and _compare(step["op"], record[step["field"]], step["value"])
                if not keep:
                    break
            elif kind == "rename":
                record = _rename(record, step["fields"])
            elif kind == "mask":
                for name in step["fields"]:
                    if name in record and record[name] is not None:
                        record[name] = _mask(record[name], step["keep_last"])
        if keep:
            yield record

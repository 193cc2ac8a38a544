"""Workflow steps: validated declarations (select, filter, rename, mask) and the one function that
applies them to records."""

from rest_framework import serializers

from accounts.api import StrictSerializer

MAX_STEPS = 50
MAX_FIELDS_PER_STEP = 100
FIELD = dict(max_length=128)


def field_list(**kwargs):
    return serializers.ListField(child=serializers.CharField(**FIELD), allow_empty=False,
                                 max_length=MAX_FIELDS_PER_STEP, **kwargs)


class SelectStep(StrictSerializer):
    """Keep only these fields."""

    type = serializers.ChoiceField(["select"])
    fields = field_list()


class FilterStep(StrictSerializer):
    """Keep records whose field compares true with value."""

    OPERATORS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists"]
    type = serializers.ChoiceField(["filter"])
    field = serializers.CharField(**FIELD)
    op = serializers.ChoiceField(OPERATORS, default="eq")
    value = serializers.JSONField(required=False)

    def validate(self, attrs):
        if attrs["op"] == "in" and not isinstance(attrs.get("value"), list):
            raise serializers.ValidationError({"value": ["The 'in' operator needs a list."]})
        if attrs["op"] != "exists" and "value" not in attrs:
            raise serializers.ValidationError({"value": ["This field is required."]})
        return attrs


class RenameStep(StrictSerializer):
    type = serializers.ChoiceField(["rename"])
    fields = serializers.DictField(child=serializers.CharField(**FIELD), allow_empty=False)

    def validate_fields(self, mapping):
        if len(mapping) > MAX_FIELDS_PER_STEP:
            raise serializers.ValidationError(f"At most {MAX_FIELDS_PER_STEP} fields.")
        return mapping


class MaskStep(StrictSerializer):
    """Replace values with asterisks, keeping the last ``keep_last`` characters."""

    type = serializers.ChoiceField(["mask"])
    fields = field_list()
    keep_last = serializers.IntegerField(min_value=0, max_value=8, default=0)


STEP_TYPES = {"select": SelectStep, "filter": FilterStep, "rename": RenameStep, "mask": MaskStep}


class StepListField(serializers.ListField):
    """An ordered list of steps, each validated by the serializer of its ``type``."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.DictField(), max_length=MAX_STEPS, **kwargs)

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        steps, errors = [], {}
        for index, item in enumerate(items):
            step_class = STEP_TYPES.get(item.get("type"))
            if step_class is None:
                errors[str(index)] = {"type": [f"Must be one of: {', '.join(STEP_TYPES)}."]}
                continue
            step = step_class(data=item)
            if step.is_valid():
                steps.append(dict(step.validated_data))
            else:
                errors[str(index)] = step.errors
        if errors:
            raise serializers.ValidationError(errors)
        return steps


def _compare(op, actual, expected):
    try:
        if op == "eq":
            return actual == expected
        if op == "ne":
            return actual != expected
        if op == "in":
            return actual in expected
        if op == "contains":
            return expected in actual
        return {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]
    except TypeError:  # values of different types never match an ordering or containment test
        return False


def _mask(value, keep_last):
    text = str(value)
    kept = text[-keep_last:] if keep_last else ""
    return "*" * (len(text) - len(kept)) + kept


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
                record = {step["fields"].get(k, k): v for k, v in record.items()}
            elif kind == "mask":
                for name in step["fields"]:
                    if name in record and record[name] is not None:
                        record[name] = _mask(record[name], step["keep_last"])
        if keep:
            yield record

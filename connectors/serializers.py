from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from api.fields import ChoiceField
from api.views import ObjectTypeField, StrictSerializer, TenantModelSerializer
from connectors.models import Connector, Dataset, Workflow
from connectors.steps import StepListField
from connectors.types import CONNECTOR_TYPES

MAX_RECORDS_PER_BATCH = 1000
MAX_FIELDS_PER_RECORD = 200


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference by id to another object of the caller's organization and mode. Any other id, of
    whichever tenant, gets the same answer: the object does not exist."""

    default_error_messages = {"does_not_exist": "No such {model_name}.", "incorrect_type": "Must be an id string."}

    def __init__(self, model, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.model.objects.for_principal(self.context["principal"])

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("incorrect_type")
        try:
            return self.get_queryset().get(pk=data)
        except self.model.DoesNotExist:
            self.fail("does_not_exist", model_name=self.model._meta.verbose_name)

    def to_representation(self, value):
        return value.pk


def _validate_with(serializer_class, data, field_name):
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise serializers.ValidationError({field_name: serializer.errors})
    return dict(serializer.validated_data)


def _submitted_values(data):
    """Every scalar in a submitted JSON value, as text (iteratively: no depth limit to exhaust)."""
    found, pending = set(), [data]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif item is not None and str(item):
            found.add(str(item))
    return found


def _without(errors, values):
    """The error tree with every message that quotes one of ``values`` replaced by a generic one."""
    if isinstance(errors, dict):
        return {key: _without(item, values) for key, item in errors.items()}
    if isinstance(errors, list):
        return [_without(item, values) for item in errors]
    if any(value in str(errors) for value in values):
        return ErrorDetail("Invalid value.", code=getattr(errors, "code", "invalid"))
    return errors


def _validate_secret(serializer_class, data, field_name):
    """As _validate_with, but no error message repeats a submitted value, whatever field produced it
    (DRF's ChoiceField, for one, quotes its input)."""
    try:
        return _validate_with(serializer_class, data, field_name)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError(_without(exc.detail, _submitted_values(data))) from None


class ConnectorSerializer(TenantModelSerializer):
    object = ObjectTypeField("connector")
    type = ChoiceField(choices=sorted(CONNECTOR_TYPES))
    config = serializers.JSONField(required=False)
    # Write-only: credentials appear in no response, and their errors never repeat their values.
    credentials = serializers.JSONField(required=False, allow_null=True, write_only=True)
    has_credentials = serializers.SerializerMethodField()

    class Meta:
        model = Connector
        fields = ["id", "object", "name", "type", "config", "credentials", "has_credentials", "livemode",
                  "created_at", "updated_at"]
        read_only_fields = ["id", "livemode", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 200}}

    def get_has_credentials(self, connector) -> bool:
        return bool(connector.credentials)

    def validate(self, attrs):
        if self.instance is not None and "type" in attrs and attrs["type"] != self.instance.type:
            raise serializers.ValidationError({"type": ["A connector's type cannot change; create a new connector."]})
        connector_type = CONNECTOR_TYPES[attrs.get("type") or self.instance.type]
        if self.instance is None or "config" in attrs:
            attrs["config"] = _validate_with(connector_type.config, attrs.get("config", {}), "config")
        if attrs.get("credentials") is not None:
            # Empty credentials are no credentials.
            attrs["credentials"] = _validate_secret(connector_type.credentials, attrs["credentials"], "credentials") or None
        return attrs


class WorkflowSerializer(TenantModelSerializer):
    object = ObjectTypeField("workflow")
    connector = TenantRelatedField(Connector)
    steps = StepListField(required=False)

    class Meta:
        model = Workflow
        fields = ["id", "object", "name", "connector", "steps", "livemode", "created_at", "updated_at"]
        read_only_fields = ["id", "livemode", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 200}}


class DatasetSerializer(TenantModelSerializer):
    object = ObjectTypeField("dataset")

    class Meta:
        model = Dataset
        fields = ["id", "object", "name", "description", "record_count", "livemode", "created_at", "updated_at"]
        read_only_fields = ["id", "record_count", "livemode", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 200}, "description": {"max_length": 2000}}


class RecordSerializer(serializers.Serializer):
    object = ObjectTypeField("record")
    seq = serializers.IntegerField(read_only=True)
    data = serializers.JSONField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class RecordObjectField(serializers.DictField):
    def to_internal_value(self, data):
        record = super().to_internal_value(data)
        if len(record) > MAX_FIELDS_PER_RECORD:
            raise serializers.ValidationError(f"A record has at most {MAX_FIELDS_PER_RECORD} fields.")
        if any(len(key) > 128 for key in record):
            raise serializers.ValidationError("Field names are at most 128 characters.")
        return record


class RecordBatchSerializer(StrictSerializer):
    records = serializers.ListField(child=RecordObjectField(), allow_empty=False, max_length=MAX_RECORDS_PER_BATCH)


class RecordBatchResultSerializer(serializers.Serializer):
    object = ObjectTypeField("record_batch")
    dataset = serializers.CharField()
    appended = serializers.IntegerField()
    first_seq = serializers.IntegerField()
    record_count = serializers.IntegerField()

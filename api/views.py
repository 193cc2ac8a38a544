"""The base of every v1 endpoint. Subclasses get authentication, per-method scopes, tenant scoping,
404 for other tenants' objects, cursor lists and audited writes without writing any of it again."""

from django.db import transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets

from api.fields import ChoiceField, not_one_of
from api.pagination import KeysetPagination
from core import errors, events
from api.idempotent_views import IdempotentViewMixin


@extend_schema_field(OpenApiTypes.STR)
class ObjectTypeField(serializers.Field):
    """The ``object`` member of every resource ("connector", "api_key", ...)."""

    def __init__(self, name, **kwargs):
        self.type_name = name
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, value):
        return self.type_name


# The JSON types a field takes. DRF coerces more (a number for a string, "5" for an integer, "yes" for a
# boolean); the API takes what its schema says, as its clients' generated code sends it.
_JSON_TYPES = (
    (serializers.BooleanField, (bool,), "a boolean"),
    (serializers.CharField, (str,), "a string"),
    (serializers.IntegerField, (int,), "an integer"),
    (serializers.FloatField, (int, float), "a number"),
    (serializers.DateTimeField, (str,), "a string"),
    (serializers.ListField, (list,), "a list"),
    (serializers.DictField, (dict,), "an object"),
)


def _json_type_error(field, value):
    """The message for ``value`` of a JSON type ``field`` does not take, or None."""
    if value is None:
        return None  # allow_null decides
    for field_class, types, name in _JSON_TYPES:
        if isinstance(field, field_class):
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                return f"Must be {name}."
            # Scalar items only: a list of objects (workflow steps) reports each item's errors by position.
            containers = (serializers.ListField, serializers.DictField)
            if isinstance(field, containers) and field.child is not None and not isinstance(field.child, containers):
                items = value if isinstance(field, serializers.ListField) else value.values()
                first = next((error for item in items if (error := _json_type_error(field.child, item))), None)
                noun = "item" if isinstance(field, serializers.ListField) else "value"
                return f"Every {noun} must be {first[len('Must be '):]}" if first else None
            return None
    return None


class StrictSerializerMixin:
    """Unknown or read-only fields in a request are a 400 naming them, not silently dropped: a client
    that sends ``organization`` or ``livemode`` learns it cannot set them. A value of another JSON type
    than the field's (``0`` for a name) is a 400 too, not coerced."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(set(data) - writable)
            if refused:
                raise serializers.ValidationError(
                    {name: ["This field cannot be set." if name in self.fields else "Unknown field."] for name in refused}
                )
            mistyped = {name: [error] for name, value in data.items()
                        if (error := _json_type_error(self.fields[name], value))}
            if mistyped:
                raise serializers.ValidationError(mistyped)
        return super().to_internal_value(data)


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


class TenantModelSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    serializer_choice_field = ChoiceField  # a model field's choices, refused as any ChoiceField's


class UnknownQueryParameter(exceptions.APIException):
    """A query parameter the operation does not take: a 400 naming it, as an unknown body field is, so a
    misspelt filter (``?actoin=``) is not silently ignored and answered with everything."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "parameter_unknown"


def _quoted(name):
    return name if errors.QUOTABLE_NAME.fullmatch(name) else "(a name that is not a parameter)"


class QueryParametersMixin:
    """Each action takes the query parameters it declares and no others (400 ``parameter_unknown``);
    a declared parameter with an ``enum`` takes only those values (400 ``parameter_invalid``).

    ``query_parameters`` maps an action to its OpenApiParameters (the schema lists the same, through
    api.schema; a plain APIView's keys are its handlers: "get", "post"); a list also takes its
    paginator's ``limit`` and ``cursor``. A GET of an action in
    ``open_query_actions`` parses its own query (the dataset records filter on any field name).
    Checked after authentication, permissions and throttles, before an Idempotency-Key is claimed."""

    query_parameters = {}
    open_query_actions = ()

    @property
    def query_action(self):
        """A viewset's action ("list", "retrieve", "roll"), or a plain view's handler ("get", "post")."""
        return getattr(self, "action", None) or self.request.method.lower()

    @classmethod
    def declared_query_parameters(cls, action, paginator=None):
        """{name: OpenApiParameter or None (a paginator's)} that ``action`` takes."""
        declared = {}
        if action == "list" and paginator is not None:
            declared.update(dict.fromkeys(p["name"] for p in paginator.get_schema_operation_parameters(cls)))
        declared.update({parameter.name: parameter for parameter in cls.query_parameters.get(action, ())})
        return declared

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            return  # not served here: a 405 whatever the query
        if method == "get" and self.query_action in self.open_query_actions:
            return  # it reads its own query
        declared = self.declared_query_parameters(self.query_action, getattr(self, "paginator", None))
        unknown = sorted(name for name in request.query_params if name not in declared)
        if unknown:
            takes = ", ".join(sorted(declared)) if declared else "no query parameters"
            names = ", ".join(_quoted(name) for name in unknown)
            refusal = UnknownQueryParameter(
                f"Unknown query parameter{'s' if len(unknown) > 1 else ''}: {names}. This operation takes {takes}.")
            quotable = [name for name in unknown if errors.QUOTABLE_NAME.fullmatch(name)]
            refusal.param = quotable[0] if quotable else None
            raise refusal
        for name, parameter in declared.items():
            enum = getattr(parameter, "enum", None)
            if enum and name in request.query_params:
                wrong = [value for value in request.query_params.getlist(name) if value not in enum]
                if wrong:
                    raise serializers.ValidationError({name: [not_one_of(enum, wrong[0])]})


def _has_mode(model):
    return any(field.name == "livemode" for field in model._meta.concrete_fields)


_UNAUDITED_HOOKS = {
    "perform_create": mixins.CreateModelMixin.perform_create,
    "perform_update": mixins.UpdateModelMixin.perform_update,
    "perform_destroy": mixins.DestroyModelMixin.perform_destroy,
}


class TenantViewSet(IdempotentViewMixin, QueryParametersMixin, viewsets.GenericViewSet):
    """A viewset over one tenant-owned model. Its POSTs honour ``Idempotency-Key`` (api.idempotent_views);
    its actions take only the query parameters they declare (QueryParametersMixin).

    Subclasses set ``model``, ``scope_map`` and ``audit_resource``; they narrow the queryset in
    ``scope_queryset`` and may not override ``get_queryset`` (which is what keeps other tenants out)."""

    model = None
    audit_resource = None
    scope_map = None
    http_method_names = ["get", "post", "patch", "delete"]
    lookup_field = "id"
    lookup_value_regex = "[A-Za-z0-9_]{1,64}"
    pagination_class = KeysetPagination

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; narrow it in scope_queryset().")
        # DRF's mixins define unaudited perform_* hooks; listed before this class they would win.
        for hook, unaudited in _UNAUDITED_HOOKS.items():
            if getattr(cls, hook) is unaudited:
                raise TypeError(f"{cls.__name__}: list TenantViewSet before DRF's mixins, so writes are audited.")

    @property
    def principal(self):
        return self.request.auth

    def get_queryset(self):
        return self.scope_queryset(self.model.objects.for_principal(self.principal))

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            raise self.not_found(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field, "")) from None

    def not_found(self, object_id):
        """A 404 that names what was looked for (the id matched ``lookup_value_regex``, so it is safe to
        repeat), and says so when the id is the organization's in the other mode, as Stripe does. Another
        organization's object is answered exactly as a missing one."""
        object_field = getattr(self.get_serializer_class(), "_declared_fields", {}).get("object")
        name = getattr(object_field, "type_name", "object")
        message = f"No such {name}: '{object_id}'."
        if _has_mode(self.model) and self.scope_queryset(self.model.objects.filter(
                organization_id=self.principal.organization_id, livemode=not self.principal.livemode,
                pk=object_id)).exists():
            mode, other = ("live", "test") if self.principal.livemode else ("test", "live")
            message = (f"No such {name}: '{object_id}'; a similar object exists in {other} mode, but this request "
                       f"was made with a {mode}-mode credential.")
        missing = exceptions.NotFound(message)
        missing.param = "id"
        return missing

    def scope_queryset(self, queryset):
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.request.auth}

    def record(self, verb, instance, metadata=None):
        events.record(
            f"{self.audit_resource}.{verb}",
            organization=self.principal.organization,
            livemode=self.principal.livemode,
            principal=self.principal,
            target=instance,
            metadata=metadata,
        )

    def perform_create(self, serializer, **extra):
        with transaction.atomic():
            instance = serializer.save(organization=self.principal.organization, livemode=self.principal.livemode, **extra)
            self.record("created", instance)

    def perform_update(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self.record("updated", instance, {"fields": sorted(serializer.validated_data)})

    def perform_destroy(self, instance):
        with transaction.atomic():
            self.record("deleted", instance)
            instance.delete()


class TenantCRUDViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin):
    """List, create, retrieve, update (PATCH) and delete."""

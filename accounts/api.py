"""The base of every v1 endpoint. Subclasses get authentication, per-method scopes, tenant scoping,
404 for other tenants' objects, cursor lists and audited writes without writing any of it again."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import mixins, serializers, viewsets

import audit
from accounts.pagination import KeysetPagination
from idempotency.mixins import IdempotentViewMixin


@extend_schema_field(OpenApiTypes.STR)
class ObjectTypeField(serializers.Field):
    """The ``object`` member of every resource ("connector", "api_key", ...)."""

    def __init__(self, name, **kwargs):
        self.type_name = name
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, value):
        return self.type_name


class StrictSerializerMixin:
    """Unknown or read-only fields in a request are a 400 naming them, not silently dropped: a client
    that sends ``organization`` or ``livemode`` learns it cannot set them."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            refused = sorted(set(data) - writable)
            if refused:
                raise serializers.ValidationError(
                    {name: ["This field cannot be set." if name in self.fields else "Unknown field."] for name in refused}
                )
        return super().to_internal_value(data)


class StrictSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


class TenantModelSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    pass


_UNAUDITED_HOOKS = {
    "perform_create": mixins.CreateModelMixin.perform_create,
    "perform_update": mixins.UpdateModelMixin.perform_update,
    "perform_destroy": mixins.DestroyModelMixin.perform_destroy,
}


class TenantViewSet(IdempotentViewMixin, viewsets.GenericViewSet):
    """A viewset over one tenant-owned model. Its POSTs honour ``Idempotency-Key`` (idempotency.mixins).

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

    def scope_queryset(self, queryset):
        return queryset

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "principal": self.request.auth}

    def record(self, verb, instance, metadata=None):
        audit.record(
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

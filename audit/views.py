from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins
from rest_framework.exceptions import ValidationError

from api.views import TenantViewSet
from api.permissions import every_method
from audit.actions import ACTION_NAMES, ACTIONS
from audit.models import AuditEvent
from audit.serializers import AuditEventSerializer


class AuditEventViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The organization's audit log, newest first: the events of the caller's mode and the organization-wide
    ones (members, roles, invitations, sign-ins), which have no mode. ``?action=`` filters by action."""

    model = AuditEvent
    serializer_class = AuditEventSerializer
    scope_map = every_method("audit:read")
    query_parameters = {"list": [OpenApiParameter("action", str, enum=ACTION_NAMES, description="Only events of this action.")]}

    def scope_queryset(self, queryset):
        action = self.request.query_params.get("action")
        if action is None:
            return queryset
        if action not in ACTIONS:
            raise ValidationError({"action": ["Unknown action."]})
        return queryset.filter(action=action)

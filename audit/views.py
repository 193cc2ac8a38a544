from rest_framework import mixins

from accounts.api import TenantViewSet
from accounts.permissions import every_method
from audit.models import AuditEvent
from audit.serializers import AuditEventSerializer


class AuditEventViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The organization's audit log in the caller's mode, newest first. ``?action=`` filters by action."""

    model = AuditEvent
    serializer_class = AuditEventSerializer
    scope_map = every_method("audit:read")

    def scope_queryset(self, queryset):
        action = self.request.query_params.get("action")
        return queryset.filter(action=action) if action else queryset

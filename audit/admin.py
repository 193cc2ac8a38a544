"""The audit log in the administrator console: read-only (events are append-only), filtered by action,
date and mode, of the organizations the person administers."""

from django.contrib import admin

from audit.actions import ACTIONS
from audit.models import AuditEvent
from console.admin import TenantAdmin
from console.site import site


class ActionFilter(admin.SimpleListFilter):
    """Every registered action, whether or not it has happened yet (the list's own values would read
    every row)."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(name, name) for name in sorted(ACTIONS)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() in ACTIONS else queryset


@admin.register(AuditEvent, site=site)
class AuditEventAdmin(TenantAdmin):
    list_display = ("created_at", "action", "actor", "credential", "target", "livemode", "ip_address", "organization")
    list_filter = (ActionFilter, ("created_at", admin.DateFieldListFilter), "livemode", "actor_type")
    date_hierarchy = "created_at"
    search_fields = ("id", "action", "actor_id", "actor_label", "target_id", "request_id")
    list_select_related = ("organization",)
    ordering = ("-created_at", "-id")
    actions = None
    fields = ("id", "created_at", "organization", "livemode", "action", "actor_type", "actor_id", "actor_label",
              "credential_kind", "credential_id", "target_type", "target_id", "request_id", "ip_address", "user_agent",
              "metadata")
    readonly_fields = fields

    @admin.display(description="actor", ordering="actor_label")
    def actor(self, event):
        return event.actor_label or event.actor_id or event.actor_type

    @admin.display(description="credential")
    def credential(self, event):
        return f"{event.credential_kind} {event.credential_id}".strip() or "—"

    @admin.display(description="target")
    def target(self, event):
        return f"{event.target_type} {event.target_id}".strip() or "—"

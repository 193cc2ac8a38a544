"""Organizations in the console."""

from django.contrib import admin
from django.db import transaction
from django.db.models import Count

import audit
from accounts.models import Organization
from console.admin import TenantAdmin
from console.scope import acting_principal
from console.site import site


@admin.register(Organization, site=site)
class OrganizationAdmin(TenantAdmin):
    organization_field = "pk"
    allow_change = True
    sudo_fields = ("require_mfa",)  # weakening the two-factor policy is as sensitive as turning MFA off
    list_display = ("name", "id", "require_mfa", "member_count", "created_at")
    search_fields = ("name", "id")
    ordering = ("name", "id")  # the autocomplete pages this list: unordered, pages could repeat or skip rows
    fields = ("id", "name", "require_mfa", "created_at")
    readonly_fields = ("id", "created_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("members"))

    @admin.display(description="members", ordering="member_total")
    def member_count(self, organization):
        return organization.member_total

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name in ("name", "require_mfa")]
        if not changed:
            return
        with transaction.atomic():
            obj.save(update_fields=changed)
            audit.record("organization.updated", organization=obj, livemode=True,
                         principal=acting_principal(request, obj), target=obj,
                         metadata={name: getattr(obj, name) for name in changed})


# Members

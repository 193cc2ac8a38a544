"""Access reviews in the console: start, decide each item, complete, export."""

from datetime import timedelta
from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.html import format_html

import audit
from accounts.actions import reviews
from core import scopes as scope_registry
from accounts.models import AccessReview, AccessReviewItem, Organization
from console.admin import ObjectAction, TenantAdmin, adopt
from console.scope import acting_principal, admin_membership, tenant_scope
from console.site import site
from accounts.admin.common import HUMAN_ROLE_CHOICES, ServiceForm, scope_lines


class ReviewStartForm(ServiceForm):
    class Meta:
        model = AccessReview
        fields = ["organization", "due_date"]
        help_texts = {"due_date": "When the decisions must be made; the review is flagged overdue after it."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["due_date"].initial = timezone.localdate() + timedelta(days=14)

    def clean_due_date(self):
        due_date = self.cleaned_data["due_date"]
        if due_date < timezone.localdate():
            raise forms.ValidationError("The due date cannot be in the past.")
        return due_date


class ReviewItemForm(ServiceForm):
    new_role = forms.ChoiceField(choices=[("", "—")] + HUMAN_ROLE_CHOICES, required=False)

    class Meta:
        model = AccessReviewItem
        fields = ["decision", "new_role", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 2, "cols": 28})}

    def clean(self):
        data = super().clean()
        if not self.has_changed() or self.errors:
            return data
        item, decision = self.instance, data.get("decision")
        if not decision:
            self.add_error("decision", "Choose keep, change role or revoke.")
        elif decision == AccessReviewItem.CHANGE_ROLE:
            if item.is_credential or item.role == scope_registry.SERVICE:
                self.add_error("decision", "Only a person's role can change; keep or revoke a credential.")
            elif not data.get("new_role"):
                self.add_error("new_role", "Choose the new role.")
        else:
            data["new_role"] = ""
        return data


class AccessReviewItemInline(admin.TabularInline):
    model = AccessReviewItem
    form = ReviewItemForm
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ("id",)
    fields = ("subject", "kind", "role", "scope_list", "last_login", "last_key_use", "two_factor", "key_age",
              "decision", "new_role", "note", "decided_by_label", "decided_at")
    readonly_fields = ("subject", "kind", "role", "scope_list", "last_login", "last_key_use", "two_factor", "key_age",
                       "decided_by_label", "decided_at")

    def _review_admin(self):
        return self.admin_site._registry[AccessReview]

    def has_view_permission(self, request, obj=None):
        return self._review_admin().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return obj is not None and self._review_admin().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="scopes")
    def scope_list(self, item):
        return scope_lines(item.scopes)

    @admin.display(description="two-factor")
    def two_factor(self, item):
        return "—" if item.is_credential else ("on" if item.mfa_enabled else "OFF")

    @admin.display(description="key age (days)")
    def key_age(self, item):
        return "—" if item.key_age_days is None else item.key_age_days


class ReviewStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("overdue", "Overdue"), ("completed", "Completed")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        return {
            "open": lambda: queryset.filter(completed_at__isnull=True),
            "overdue": lambda: queryset.filter(completed_at__isnull=True, due_date__lt=today),
            "completed": lambda: queryset.filter(completed_at__isnull=False),
        }.get(self.value(), lambda: queryset)()


@admin.register(AccessReview, site=site)
class AccessReviewAdmin(TenantAdmin):
    """An organization's Admin starts a review, decides for each member and credential (keep, change
    role, revoke, with a note), and completes it (needs sudo), which applies every decision. Platform
    staff who are not an Admin of the organization can read and export reviews, not decide them."""

    allow_add = allow_change = True
    # Who started and completed it as recorded then, not the links (emptied when that member is removed).
    list_display = ("__str__", "organization", "due_date", "status", "decided", "started_by_label", "created_at",
                    "completed_at", "completed_by_label", "csv")
    list_filter = (ReviewStatusFilter,)
    list_select_related = ("organization",)
    ordering = ("-created_at",)
    inlines = [AccessReviewItemInline]
    object_actions = (
        ObjectAction("complete", "Complete review", "Every decision is applied now: roles change, keys are revoked, "
                     "members are removed. Every entry needs a decision first.", sudo=True, available="is_open"),
        ObjectAction("export", "Export CSV", download=True, available="is_completed"),
    )
    add_form = ReviewStartForm
    detail_fields = ("organization", "due_date", "status", "started_by_label", "started_by_member_id", "created_at",
                     "completed_at", "completed_by_label", "completed_by_member_id")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            item_total=Count("items"), decided_total=Count("items", filter=~Q(items__decision="")))

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organization":
            # A review is started (and decided) by one of the organization's Admins, staff or not.
            kwargs["queryset"] = Organization.objects.filter(pk__in=tenant_scope(request).organization_ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def reviewer(self, request, review):
        return admin_membership(request, review.organization_id)

    def has_add_permission(self, request):
        return bool(tenant_scope(request).organization_ids)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self.covers(request)
        return self.covers(request, obj) and obj.completed_at is None and self.reviewer(request, obj) is not None

    def has_object_action_permission(self, request, obj, action):
        if action.name == "complete":
            return self.covers(request, obj) and self.reviewer(request, obj) is not None
        return self.covers(request, obj)

    def is_open(self, request, review):
        return review.completed_at is None

    def is_completed(self, request, review):
        return review.completed_at is not None

    @admin.display(description="status")
    def status(self, review):
        if review.completed_at:
            return "Completed"
        return "OVERDUE" if review.is_overdue else "Open"

    @admin.display(description="decided")
    def decided(self, review):
        return f"{review.decided_total} / {review.item_total}" if hasattr(review, "item_total") else ""

    @admin.display(description="export")
    def csv(self, review):
        if review.completed_at is None:
            return ""
        return format_html('<a href="{}">CSV</a>', self.object_action_url(review, "export"))

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on the review itself is edited; the decisions are saved by save_formset
        organization = form.cleaned_data["organization"]
        member = admin_membership(request, organization.pk)
        review = reviews.start(organization=organization, started_by=member, due_date=form.cleaned_data["due_date"])
        adopt(obj, review)

    def response_add(self, request, obj, post_url_continue=None):
        messages.success(request, f"{obj} started with {obj.items.count()} entries: decide on each, then complete it.")
        return HttpResponseRedirect(self.change_url(obj))

    def save_formset(self, request, form, formset, change):
        review = form.instance
        member = self.reviewer(request, review)
        # What formset.save() would leave, for the admin's own log entry.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for item_form in formset.forms:
            if not item_form.has_changed():
                continue
            data = item_form.cleaned_data
            item = AccessReviewItem.objects.select_related("review").get(pk=item_form.instance.pk, review=review)
            reviews.decide(item=item, decision=data["decision"], decided_by=member, new_role=data.get("new_role", ""),
                           note=data.get("note", ""))
            formset.changed_objects.append((item, item_form.changed_data))

    def complete_action(self, request, review, data):
        completed = reviews.complete(review=review, completed_by=self.reviewer(request, review))
        messages.success(request, "The access review is completed and its decisions applied.")
        if completed.skipped:
            messages.warning(request, "Not applied, the member or key was already gone: "
                             + ", ".join(item.subject for item in completed.skipped) + ".")

    def export_action(self, request, review, data):
        with transaction.atomic():
            audit.record("access_review.exported", organization=review.organization, livemode=True,
                         principal=acting_principal(request, review.organization), target=review,
                         metadata={"format": "csv"})
        response = HttpResponse(reviews.export_csv(review), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="access-review-{review.pk}.csv"'
        response["Cache-Control"] = "no-store"
        return response


# Brute-force lockouts (django-axes)

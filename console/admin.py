"""The base of every console page of a tenant model: TenantAdmin (scoped querysets, choices and object
URLs; changes through the API's functions), object actions, and APIResourceAdmin for API resources.
"""

from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core import events
from core.errors import Conflict
from core.tenancy import every_tenant
from console.scope import acting_principal, conflict_message, sudo_redirect, tenant_choices, tenant_scope


# The base of every ModelAdmin


@dataclass(frozen=True)
class ObjectAction:
    """A button on an object's page (revoke, roll, resend, complete...): a link to a confirmation page
    that POSTs, or (``download``) a plain GET. ``run`` names the ModelAdmin method that does it:
    ``method(request, obj, cleaned_data)`` returning a response or None (back to the object's page)."""

    name: str
    label: str
    question: str = ""
    run: str = ""
    sudo: bool = False
    form: type = forms.Form
    download: bool = False
    available: str = ""  # a ModelAdmin method (request, obj) -> bool; missing = always


class TenantAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows, choices and object URLs are those of the organizations the requesting
    person administers, and whose writes go through the app's services (``save_model`` and
    ``delete_model`` must be written by each subclass that allows them). Deny by default: no add, change
    or delete unless a subclass says so."""

    organization_field = "organization"  # the lookup from this model to its Organization ("pk" for it)
    allow_add = allow_change = allow_delete = False
    sensitive_fields = ()  # never filtered on from the URL (no oracle on digests or secrets)
    sudo_fields = ()  # a change to any of these needs sudo
    sudo_to_add = False  # adding one needs sudo (the page that answers it shows a secret)
    # Created with ``add_form`` and read-only afterwards (the ``detail_fields``): set both, or neither.
    add_form = None
    detail_fields = ()
    object_actions = ()
    save_as = False
    view_on_site = False
    show_full_result_count = False
    change_form_template = "admin/openpaas/change_form.html"

    # Tenancy

    def organization_id_of(self, obj):
        if self.organization_field == "pk":
            return obj.pk
        *path_, last = self.organization_field.split("__")
        for part in path_:
            obj = getattr(obj, part)
        return getattr(obj, f"{last}_id")

    def scope_queryset(self, queryset, scope):
        if scope.everything:
            return every_tenant(queryset)
        return queryset.filter(**{f"{self.organization_field}__in": scope.organization_ids})

    def get_queryset(self, request):
        return self.scope_queryset(super().get_queryset(request), tenant_scope(request))

    def get_object(self, request, object_id, from_field=None):
        # Another organization's object answers as one that never existed: 404, not the admin's
        # "perhaps it was deleted?" redirect to the index.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object.")
        return obj

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        kwargs["queryset"] = tenant_choices(db_field.related_model, tenant_scope(request), kwargs.get("queryset"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs["queryset"] = tenant_choices(db_field.related_model, tenant_scope(request), kwargs.get("queryset"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if self.organization_field == "organization":
            # Only organizations that have rows in this (already filtered) list: never others' names.
            filters.append(("organization", admin.RelatedOnlyFieldListFilter))
        return filters

    def lookup_allowed(self, lookup, value, request=None):
        if lookup.split("__", 1)[0] in self.sensitive_fields:
            return False
        return super().lookup_allowed(lookup, value, request)

    # Permissions: the console's own rule, not Django's per-model permissions

    def covers(self, request, obj=None) -> bool:
        scope = tenant_scope(request)
        return scope.any if obj is None else scope.covers(self.organization_id_of(obj))

    def has_module_permission(self, request):
        return self.covers(request)

    def has_view_permission(self, request, obj=None):
        return self.covers(request, obj)

    def has_add_permission(self, request):
        return self.allow_add and self.covers(request)

    def has_change_permission(self, request, obj=None):
        return self.allow_change and self.covers(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and self.covers(request, obj)

    def principal_for(self, request, obj, livemode=True):
        return acting_principal(request, self.organization_of(obj), livemode)

    def organization_of(self, obj):
        if self.organization_field == "pk":
            return obj
        target = obj
        for part in self.organization_field.split("__"):
            target = getattr(target, part)
        return target

    # Writes

    def save_model(self, request, obj, form, change):
        raise NotImplementedError(f"{type(self).__name__} writes through a service; override save_model.")

    def delete_model(self, request, obj):
        raise NotImplementedError(f"{type(self).__name__} deletes through a service; override delete_model.")

    def delete_queryset(self, request, queryset):
        # One by one through delete_model, never QuerySet.delete(): each deletion is audited. All or nothing:
        # a refusal (the last Admin) undoes the deletions before it.
        with transaction.atomic():
            for obj in queryset:
                self.delete_model(request, obj)

    def _guarded(self, request, call, back=None):
        """A service's refusal (409 in the API) becomes a message and a way back, not a 500."""
        try:
            return call()
        except Conflict as exc:
            messages.error(request, conflict_message(exc))
            return HttpResponseRedirect(back or request.get_full_path())

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and "_saveasnew" in request.POST:
            if not self.save_as:
                # Django turns any change form posted with "_saveasnew" into an add, past add_view and
                # every check made there (sudo before a key's secret is shown).
                raise PermissionDenied
            object_id = None
        if object_id is None and self.sudo_to_add:
            # Here, not in add_view: every way to an add comes through this method.
            if (needed := sudo_redirect(request)) is not None:
                return needed
        elif request.method == "POST" and self.sudo_fields:
            needed = self._sudo_for_change(request, object_id)
            if needed is not None:
                return needed
        return self._guarded(request, lambda: super(TenantAdmin, self).changeform_view(
            request, object_id, form_url, extra_context))

    def _sudo_for_change(self, request, object_id):
        if object_id is None:
            return None
        obj = self.get_object(request, unquote(object_id))
        if not self.has_change_permission(request, obj):
            return None  # refused further on, as Django does
        form = self.get_form(request, obj, change=True)(request.POST, request.FILES, instance=obj)
        if set(form.changed_data) & set(self.sudo_fields):
            return sudo_redirect(request)
        return None

    def delete_view(self, request, object_id, extra_context=None):
        return self._guarded(request, lambda: super(TenantAdmin, self).delete_view(request, object_id, extra_context))

    def changelist_view(self, request, extra_context=None):
        return self._guarded(request, lambda: super(TenantAdmin, self).changelist_view(request, extra_context))

    def get_fields(self, request, obj=None):
        if self.add_form is not None:
            return list(self.add_form.Meta.fields) if obj is None else list(self.detail_fields)
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if self.add_form is not None:
            return [] if obj is None else list(self.detail_fields)
        return super().get_readonly_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self.add_form is not None and obj is None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        # Forms that validate with the API's serializers need to know who is asking.
        return type(form.__name__, (form,), {"admin_request": request, "admin": self})

    # Object actions (buttons on an object's page)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        extra = [
            path(f"<path:object_id>/{action.name}/", self.admin_site.admin_view(self.object_action_view),
                 {"action_name": action.name}, name="%s_%s_" % info + action.name)
            for action in self.object_actions
        ]
        return extra + super().get_urls()

    def object_action_url(self, obj, name):
        info = self.opts.app_label, self.opts.model_name
        return reverse("admin:%s_%s_" % info + name, args=[quote(obj.pk)], current_app=self.admin_site.name)

    def change_url(self, obj):
        info = self.opts.app_label, self.opts.model_name
        return reverse("admin:%s_%s_change" % info, args=[quote(obj.pk)], current_app=self.admin_site.name)

    def has_object_action_permission(self, request, obj, action):
        return self.covers(request, obj)

    def action_is_available(self, request, obj, action):
        check = getattr(self, action.available, None) if action.available else None
        return self.has_object_action_permission(request, obj, action) and (check is None or check(request, obj))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if self.object_actions and request.method == "GET":
            obj = self.get_object(request, unquote(object_id))
            extra_context["object_actions"] = [
                {"label": action.label, "url": self.object_action_url(obj, action.name)}
                for action in self.object_actions if self.action_is_available(request, obj, action)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def object_action_view(self, request, object_id, action_name):
        action = next(a for a in self.object_actions if a.name == action_name)
        obj = self.get_object(request, unquote(object_id))
        if not self.has_object_action_permission(request, obj, action):
            raise PermissionDenied
        back = self.change_url(obj)
        if not self.action_is_available(request, obj, action):
            messages.error(request, f"{action.label}: not possible for this {self.opts.verbose_name} now.")
            return HttpResponseRedirect(back)
        if action.sudo and (needed := sudo_redirect(request, request.path)) is not None:
            return needed
        run = getattr(self, action.run or f"{action.name}_action")
        if action.download:
            return run(request, obj, {})
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        form = action.form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            response = self._guarded(request, lambda: run(request, obj, form.cleaned_data), back)
            return response or HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{action.label}: {obj}", "subtitle": None, "opts": self.opts, "object": obj,
            "question": action.question, "form": form, "button": action.label, "back_url": back,
        }
        return TemplateResponse(request, "admin/openpaas/confirm.html", context)

    def secret_response(self, request, obj, *, title, secret, note=""):
        """The one page that shows a new secret; never stored in a message, the session or a cookie."""
        messages.success(request, f"{title}. Copy the secret now: it is not shown again.")
        context = {
            **self.admin_site.each_context(request),
            "title": title, "subtitle": None, "opts": self.opts, "object": obj, "secret": secret, "note": note,
            "back_url": self.change_url(obj),
        }
        response = TemplateResponse(request, "admin/openpaas/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response


def adopt(target, source):
    """Make the unsaved instance the admin holds (``target``) the row a service created (``source``), so
    the admin's log entry and redirect point at it."""
    target.__dict__.update(source.__dict__)


def flat_errors(errors, prefix=""):
    """A DRF error tree as (field, message) pairs."""
    if isinstance(errors, dict):
        for name, value in errors.items():
            yield from flat_errors(value, f"{prefix}{name}." if prefix else f"{name}.")
    elif isinstance(errors, list):
        for value in errors:
            yield from flat_errors(value, prefix)
    else:
        yield prefix.rstrip("."), str(errors)


def apply_serializer_errors(form, errors, field_map=None):
    """Show the API's validation errors on an admin form: the same rules, one place."""
    for name, message in flat_errors(errors):
        top = name.split(".", 1)[0]
        field = (field_map or {}).get(top, top)
        if field not in form.fields:
            field, message = None, f"{name}: {message}" if name and name != "non_field_errors" else message
        elif "." in name:
            message = f"{name.split('.', 1)[1]}: {message}"
        form.add_error(field, message)


class APIResourceForm(forms.ModelForm):
    """A change form validated by the resource's API serializer (the same rules as a PATCH), which also
    writes it. Only the fields that changed are sent, as a PATCH would."""

    def _post_clean(self):
        pass  # the serializer validates and writes the instance

    def clean(self):
        data = super().clean()
        self.serializer = None
        if self.errors or not self.changed_data:
            return data
        admin_ = self.admin
        principal = admin_.principal_for(self.admin_request, self.instance, self.instance.livemode)
        body = {name: data.get(name) for name in self.changed_data}
        serializer = admin_.serializer_class(self.instance, data=body, partial=True, context={"principal": principal})
        if serializer.is_valid():
            self.serializer, self.principal = serializer, principal
        else:
            apply_serializer_errors(self, serializer.errors)
        return data


class APIResourceAdmin(TenantAdmin):
    """An API resource (connector, webhook endpoint...) changed and deleted as its viewset does: the
    serializer validates and saves, and ``<audit_resource>.updated`` / ``.deleted`` is recorded in the
    same transaction. Objects are created through the API (their secrets are shown once there)."""

    serializer_class = None
    audit_resource = None
    form = APIResourceForm
    allow_change = allow_delete = True

    def record(self, request, verb, instance, principal=None, metadata=None):
        principal = principal or self.principal_for(request, instance, instance.livemode)
        events.record(f"{self.audit_resource}.{verb}", organization=principal.organization, livemode=instance.livemode,
                     principal=principal, target=instance, metadata=metadata)

    def save_model(self, request, obj, form, change):
        serializer = getattr(form, "serializer", None)
        if serializer is None:
            return  # nothing changed
        with transaction.atomic():
            adopt(obj, serializer.save())
            self.record(request, "updated", obj, form.principal, {"fields": sorted(serializer.validated_data)})

    def delete_model(self, request, obj):
        with transaction.atomic():
            self.record(request, "deleted", obj)
            obj.delete()

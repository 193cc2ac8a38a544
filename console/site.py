"""The administrator console: Django admin at /admin/, for platform staff and organizations' Admins.

Who gets in: an active person whose browser session passed a second factor (django-otp) and who is
platform staff (``is_staff``) or an Admin of at least one organization. Nobody signs in here: the
console's login page is the two-step sign-in at /login; a signed-in person who may not enter gets a 403.

What they see: platform staff (``is_staff`` and ``is_superuser``) every organization; anyone else only the
organizations they are an Admin of. ``TenantAdmin`` applies that to every queryset, every foreign-key
choice and every object URL (another organization's object is a 404, as in the API), and makes every
change go through the same service functions as the API, so each writes the same audit event.

This site is not Django's default ``admin.site``: third-party apps register their models there
(OAuth tokens, JWT blacklists, ...) without any tenancy, so only what is registered here is served.
"""

from functools import update_wrapper
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import actions as admin_actions
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import devices_for_user
from django_otp.admin import OTPAdminSite

from core.tenancy import every_tenant
from console.scope import accounts_model, tenant_scope


# The site


class OpenPaaSAdminSite(OTPAdminSite):
    """django-otp's admin site (a verified second factor or nothing), open to platform staff and to
    organizations' Admins, with our sign-in as its login page."""

    site_header = "Open PaaS administration"
    site_title = "Open PaaS admin"
    index_title = "Administrator console"
    site_url = "/account"
    index_template = "admin/index.html"

    def __init__(self, name="admin"):
        super().__init__(name)

    def may_enter(self, request) -> bool:
        user = request.user
        return bool(user.is_active and (user.is_staff or tenant_scope(request).organization_ids))

    def has_permission(self, request):
        user = request.user
        return bool(user.is_authenticated and user.is_active and user.is_verified() and self.may_enter(request))

    def refuse(self, request):
        """Signed out: to the sign-in, and back here after it. Signed in: a 403 that says why."""
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        allowed = self.may_enter(request)
        context = {
            "needs_second_factor": allowed,
            "has_device": allowed and any(True for _ in devices_for_user(user, confirmed=True)),
            "sign_in_url": f"{settings.LOGIN_URL}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}",
        }
        return TemplateResponse(request, "admin/openpaas/refused.html", context, status=403)

    def admin_view(self, view, cacheable=False):
        # Django's version sends everyone refused to the login page; a signed-in person who may not
        # enter would loop between it and here.
        def inner(request, *args, **kwargs):
            if not self.has_permission(request):
                return self.refuse(request)
            return view(request, *args, **kwargs)

        if not cacheable:
            inner = never_cache(inner)
        if not getattr(view, "csrf_exempt", False):
            inner = csrf_protect(inner)
        return update_wrapper(inner, view)

    def get_urls(self):
        # No "view on site" redirector (/admin/r/<type>/<id>/): it looks objects up by id with no regard
        # to their organization, and none of these pages links to it.
        return [pattern for pattern in super().get_urls() if getattr(pattern, "name", None) != "view_on_site"]

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        """No password form of its own: the two-step sign-in, then back to the console."""
        next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
            next_url = reverse("admin:index", current_app=self.name)
        return redirect_to_login(next_url, settings.LOGIN_URL)

    def logout(self, request, extra_context=None):
        return resolve(reverse("logout")).func(request)  # the sign-out page's view: audited, the session ended

    def password_change(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("password"))  # behind sudo, on the account pages

    def password_change_done(self, request, extra_context=None):
        return HttpResponseRedirect(reverse("account-security"))

    def index(self, request, extra_context=None):
        return super().index(request, {"overdue_reviews": overdue_reviews(request), **(extra_context or {})})


def overdue_reviews(request):
    """Access reviews past their due date and not completed, of the organizations the person administers."""
    scope = tenant_scope(request)
    reviews = accounts_model("AccessReview").objects.filter(completed_at__isnull=True, due_date__lt=timezone.localdate())
    reviews = every_tenant(reviews) if scope.everything else reviews.filter(organization_id__in=scope.organization_ids)
    return list(reviews.select_related("organization").order_by("due_date")[:50])


@admin.action(permissions=["delete"], description=admin_actions.delete_selected.short_description)
def delete_selected(modeladmin, request, queryset):
    """Django's "delete selected", in one transaction with the history it writes before deleting: when a
    deletion is refused, neither the other deletions nor their history entries remain."""
    with transaction.atomic():
        return admin_actions.delete_selected(modeladmin, request, queryset)


site = OpenPaaSAdminSite()
site.add_action(delete_selected, "delete_selected")

# The URL conf mounts the site with ``include("console.site")``: its URL namespace, and its URLs read when
# the URL conf loads, after every app's admin module has registered its pages.
app_name = "admin"


def __getattr__(name):
    if name == "urlpatterns":
        return site.get_urls()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

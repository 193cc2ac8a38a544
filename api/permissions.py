"""Deny by default: every API view declares the scope it needs for each HTTP method."""

from django.db import transaction
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from core import gate
from api.exceptions import REFUSAL_AUDIT_SECONDS, MissingCredentials, TooManyRefusals
from core import events
from core.principal import Principal


class MissingScope(PermissionDenied):
    """A 403 that names the scope the credential lacks."""

    default_code = "missing_scope"

    def __init__(self, scope):
        self.scope = scope
        super().__init__(f"This credential does not have the required scope: {scope}.")


class LivemodeRequired(PermissionDenied):
    """A 403 for a test-mode credential attempting an organization-wide change."""

    default_code = "livemode_required"
    default_detail = ("This changes the whole organization, live mode included: it needs a live-mode credential "
                      "(an sk_live_ key or a live-mode token) or a person signed in to the console.")

# A scope_map value meaning "any authenticated principal" (for /me and the schema).
ANY_PRINCIPAL = "*"

SAFE_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def read_write(resource: str) -> dict:
    """Read scope for safe methods, write scope for the rest."""
    return {**{m: f"{resource}:read" for m in SAFE_METHODS}, **{m: f"{resource}:write" for m in WRITE_METHODS}}


def every_method(scope: str) -> dict:
    return {m: scope for m in SAFE_METHODS + WRITE_METHODS}


def is_organization_wide(view, method):
    """Whether the view declares that this method changes the organization itself (members, roles,
    invitations, Service members): its effect reaches live mode, so test-mode credentials may not."""
    return method.upper() in getattr(view, "organization_wide", ())


def required_scope(view, method):
    """The scope a view declares for a method, or None when it declares none (then nobody passes)."""
    return (getattr(view, "scope_map", None) or {}).get(method.upper())


def _deny(request, scope, reason):
    """Before a denial is answered: counted against the credential's refusal budget (DRF checks
    permissions before throttles, so the ordinary rate limit has not judged this request), audited at
    most once a minute per credential, scope and reason with the count of those held back since, and
    answered 429 once the budget is spent. The caller raises the denial itself."""
    principal = request.auth
    outcome = gate.refuse(gate.refusal_limits(credential=f"{principal.credential_kind}:{principal.credential_id}"),
                          audit_key=f"denied:{principal.credential_kind}:{principal.credential_id}:{scope}:{reason}",
                          audit_seconds=REFUSAL_AUDIT_SECONDS)
    # The X-RateLimit headers (core.middleware) then tell of this budget too, when it is the one running out.
    django_request = getattr(request, "_request", request)
    django_request.openpaas_rate_counts = [*(getattr(django_request, "openpaas_rate_counts", None) or []),
                                           *outcome.counts]
    if outcome.record:
        with transaction.atomic():
            events.record("access.denied", organization=principal.organization, livemode=principal.livemode,
                         principal=principal, metadata={"method": request.method, "path": request.path[:200],
                                                        "required_scope": scope, "reason": reason,
                                                        "count": outcome.record})
    if outcome.retry_after is not None:
        raise TooManyRefusals(wait=outcome.retry_after)


def refuse_test_mode(request, scope):
    """For a view whose change is organization-wide depending on its body or object (not on the method
    alone, which ``organization_wide`` declares): a test-mode credential is denied as HasScope would."""
    if not request.auth.livemode:
        _deny(request, scope, LivemodeRequired.default_code)
        raise LivemodeRequired()


class IsPrincipal(BasePermission):
    """Every request must carry a valid credential."""

    def has_permission(self, request, view):
        if isinstance(request.auth, Principal):
            return True
        raise MissingCredentials()


class HasScope(BasePermission):
    """The credential's effective scopes must hold the scope the view declares for this method, and an
    organization-wide method (``organization_wide``) needs a live-mode credential."""

    def has_permission(self, request, view):
        if request.method.lower() not in view.http_method_names:
            return True  # not served at all: the view answers 405
        scope = required_scope(view, request.method)
        if scope == ANY_PRINCIPAL:
            return True
        if scope is None:
            # A method the view forgot to declare is refused, never allowed.
            self.message = "This operation is not available to API credentials."
            return False
        if not request.auth.has_scope(scope):
            _deny(request, scope, MissingScope.default_code)
            raise MissingScope(scope)
        served = hasattr(view, request.method.lower())  # a viewset route without this method answers 405
        if not request.auth.livemode and served and is_organization_wide(view, request.method):
            _deny(request, scope, LivemodeRequired.default_code)
            raise LivemodeRequired()
        return True

"""Deny by default: every API view declares the scope it needs for each HTTP method."""

from django.db import transaction
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

import audit
from accounts.authentication import MissingCredentials
from accounts.principal import Principal


class MissingScope(PermissionDenied):
    """A 403 that names the scope the credential lacks."""

    default_code = "missing_scope"

    def __init__(self, scope):
        self.scope = scope
        super().__init__(f"This credential does not have the required scope: {scope}.")

# A scope_map value meaning "any authenticated principal" (for /me and the schema).
ANY_PRINCIPAL = "*"

SAFE_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def read_write(resource: str) -> dict:
    """Read scope for safe methods, write scope for the rest."""
    return {**{m: f"{resource}:read" for m in SAFE_METHODS}, **{m: f"{resource}:write" for m in WRITE_METHODS}}


def every_method(scope: str) -> dict:
    return {m: scope for m in SAFE_METHODS + WRITE_METHODS}


def required_scope(view, method):
    """The scope a view declares for a method, or None when it declares none (then nobody passes)."""
    return (getattr(view, "scope_map", None) or {}).get(method.upper())


def _record_denial(request, view, scope):
    principal = request.auth
    with transaction.atomic():
        audit.record("access.denied", organization=principal.organization, livemode=principal.livemode,
                     principal=principal, metadata={"method": request.method, "path": request.path[:200],
                                                    "required_scope": scope})


class IsPrincipal(BasePermission):
    """Every request must carry a valid credential."""

    def has_permission(self, request, view):
        if isinstance(request.auth, Principal):
            return True
        raise MissingCredentials()


class HasScope(BasePermission):
    """The credential's effective scopes must hold the scope the view declares for this method."""

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
            _record_denial(request, view, scope)
            raise MissingScope(scope)
        return True

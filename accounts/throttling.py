"""Rate limits per credential and per organization, counted in the shared cache (Redis in production),
so every web process enforces the same budget."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

# Set on a request its credential's limit refused. DRF asks every throttle in turn, so without it the
# organization's counter would record requests that were never served: one runaway key, held at its own
# limit, would still use up the whole organization's budget and lock out every other key.
_REFUSED_BY_CREDENTIAL = "_openpaas_refused_by_credential_limit"


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        # Read per request, not once at import (DRF's default), so changed settings take effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class CredentialRateThrottle(_SettingsRateThrottle):
    """Listed before OrganizationRateThrottle in DEFAULT_THROTTLE_CLASSES."""

    scope = "credential"

    def get_cache_key(self, request, view):
        principal = request.auth
        return f"throttle:credential:{principal.credential_id}" if principal else None

    def allow_request(self, request, view):
        allowed = super().allow_request(request, view)
        if not allowed:
            setattr(request, _REFUSED_BY_CREDENTIAL, True)
        return allowed


class OrganizationRateThrottle(_SettingsRateThrottle):
    """Shared by all of an organization's credentials in one mode, so many keys cannot multiply it."""

    scope = "organization"

    def get_cache_key(self, request, view):
        principal = request.auth
        if principal is None:
            return None
        return f"throttle:organization:{principal.organization.id}:{int(principal.livemode)}"

    def allow_request(self, request, view):
        if getattr(request, _REFUSED_BY_CREDENTIAL, False):
            return True  # refused already, by its key's own limit: not counted against the organization
        return super().allow_request(request, view)

"""Rate limits per credential and per organization, counted in the shared cache (Redis in production),
so every web process enforces the same budget."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self):
        # Read per request, not once at import (DRF's default), so changed settings take effect.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]


class CredentialRateThrottle(_SettingsRateThrottle):
    scope = "credential"

    def get_cache_key(self, request, view):
        principal = request.auth
        return f"throttle:credential:{principal.credential_id}" if principal else None


class OrganizationRateThrottle(_SettingsRateThrottle):
    """Shared by all of an organization's credentials in one mode, so many keys cannot multiply it."""

    scope = "organization"

    def get_cache_key(self, request, view):
        principal = request.auth
        if principal is None:
            return None
        return f"throttle:organization:{principal.organization.id}:{int(principal.livemode)}"

"""Rate limits per credential and per organization (both modes counted apart), in the shared cache.

Authentication counts the request against both budgets in the same cache round trip that validates
its cached credential (accounts.gate) and leaves the counts on the request; this throttle only judges
them, so DRF answers 429 with Retry-After as for any throttle.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from accounts import gate


class PrincipalRateThrottle(BaseThrottle):
    def allow_request(self, request, view):
        counts = getattr(request, "openpaas_rate_counts", None) or []
        exceeded = [count for count in counts if count.exceeded]
        if not exceeded:
            return True
        self._wait = max(count.retry_after for count in exceeded)
        if any(count.limit.name == "credential" for count in exceeded):
            # Refused by its own key's limit: not held against the organization, or one runaway key
            # would use up the budget of every other key.
            for count in counts:
                if count.limit.name == "organization" and not count.exceeded:
                    gate.uncount(count.limit)
        return False

    def wait(self):
        return self._wait


class SignInAddressThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address, whatever the account: django-axes counts per account and
    address, which alone lets one address try a password on every account (spraying). The address is
    the one a trusted proxy vouches for (config.middleware.client_ip), never a raw X-Forwarded-For."""

    scope = "sign_in"

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        return f"throttle:sign_in:{getattr(request, 'client_ip', None) or request.META.get('REMOTE_ADDR')}"

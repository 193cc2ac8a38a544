"""Rate limits per credential and per organization (both modes counted apart), in the shared cache.

Authentication counts the request against both budgets in the same cache round trip that validates
its cached credential (accounts.gate) and leaves the counts on the request; this throttle only judges
them, so DRF answers 429 with Retry-After as for any throttle.
"""

from rest_framework.throttling import BaseThrottle

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

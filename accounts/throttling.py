"""Rate limits per credential and per organization (both modes counted apart), in the shared cache.

Authentication counts the request against both budgets in the same cache round trip that validates
its cached credential (core.gate) and leaves the counts on the request; this throttle only judges
them, so DRF answers 429 with Retry-After as for any throttle.

Sign-in attempts per client address (SignInBudget) are counted apart, before any credential is looked
at; see there.
"""

import ipaddress
import logging
import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from core import gate

logger = logging.getLogger("openpaas.sign_in")


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


# Sign-in attempts per client address
#
# django-axes counts failures per account (and address), which alone lets one address try a password on
# every account (spraying), or guess client secrets and codes at the OAuth token endpoint. So every door
# that checks a secret of someone who is not signed in yet (/login and its code step, the JWT token and
# refresh endpoints, the OAuth token, revocation and introspection endpoints) takes one attempt from ONE budget per client address,
# OPENPAAS_RATE_SIGN_IN (default 30 a minute): an attacker gains nothing by switching doors. A successful
# attempt is given back, so only failures spend the budget: people signing in behind one NAT are not held
# up by each other, and an attacker who can sign in somewhere gains nothing either. Taking happens
# before anything is checked (an atomic increment, so concurrent requests cannot overshoot) and a refusal
# costs no database query and writes nothing.
#
# The address is the one a trusted proxy vouches for (core.middleware.client_ip), never a raw
# X-Forwarded-For; IPv6 addresses count per /64, the block one subscriber gets.
#
# Without the shared cache nothing can be counted: these doors then fail closed (503 with Retry-After),
# logged; the rest of the API fails open (core.gate).

UNAVAILABLE_RETRY_AFTER = 30  # seconds: what a refused client is told while the cache is unreachable


class SignInUnavailable(exceptions.APIException):
    """The shared cache cannot be reached, so attempts cannot be counted: refused (fail closed)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = f"Signing in is unavailable for a moment. Retry after {UNAVAILABLE_RETRY_AFTER} seconds."
    default_code = "service_unavailable"


@dataclass(frozen=True)
class SignInAttempt:
    key: str
    used: int  # attempts in the current window, this one included
    allowed: int
    retry_after: int  # seconds until the window ends

    @property
    def refused(self):
        return self.used > self.allowed


def _address_key(request):
    address = getattr(request, "client_ip", None)
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "openpaas:signin:unknown"  # no usable peer address: all such requests share one budget
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return f"openpaas:signin:{ip.ipv4_mapped}"
        return f"openpaas:signin:{ipaddress.ip_network(f'{ip}/64', strict=False).network_address}/64"
    return f"openpaas:signin:{ip}"


def take_sign_in_attempt(request):
    """Count one attempt of ``request``'s client address (a Django HttpRequest) against the sign-in
    budget. Returns the SignInAttempt (``refused`` once the budget is spent), or None when no limit is
    set. Raises SignInUnavailable when the cache cannot be reached."""
    rate = api_settings.DEFAULT_THROTTLE_RATES.get("sign_in")
    if not rate:
        return None
    allowed, seconds = gate.parse_rate(rate)
    key = _address_key(request)
    now = time.time()
    try:
        # A window from the first attempt: its end is kept beside the count (Django's cache API has no TTL).
        cache.add(f"{key}:ends", now + seconds, seconds)
        cache.add(key, 0, seconds)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, seconds)
            used = 1
        ends = cache.get(f"{key}:ends") or now + seconds
    except Exception:  # each cache backend raises its own errors; none may let an attempt through uncounted
        logger.error("Shared cache unreachable: sign-in refused (503) at %s.", request.path, exc_info=True)
        raise SignInUnavailable()
    attempt = SignInAttempt(key, used, allowed, max(1, math.ceil(ends - now)))
    request.openpaas_sign_in_attempt = attempt
    return attempt


def give_back_sign_in_attempt(request):
    """The attempt of ``request`` succeeded: it does not count against its address."""
    attempt = getattr(request, "openpaas_sign_in_attempt", None)
    if attempt is None:
        return
    request.openpaas_sign_in_attempt = None
    try:
        cache.decr(attempt.key)
    except ValueError:  # the window ended meanwhile: nothing to give back
        pass
    except Exception:
        logger.error("Shared cache unreachable while giving back a successful sign-in attempt.", exc_info=True)


def sign_in_unavailable_response(request):
    """503 in the API's error shape."""
    # Imported here: DRF imports this module (DEFAULT_THROTTLE_CLASSES) while core.errors imports DRF.
    from core.errors import API, error_response

    return error_response(503, API, SignInUnavailable.default_code, str(SignInUnavailable.default_detail),
                          request=request, headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)})


class SignInAddressThrottle(BaseThrottle):
    """The sign-in budget of the client address, for DRF views (the JWT endpoints): 429 with Retry-After
    once spent; SignInUnavailable (503) without the cache. Views that use it inherit SignInDoor, which
    gives a successful attempt back and answers the 503."""

    def allow_request(self, request, view):
        attempt = take_sign_in_attempt(request._request)
        if attempt is None or not attempt.refused:
            return True
        self._wait = attempt.retry_after
        return False

    def wait(self):
        return self._wait


class SignInDoor:
    """A DRF view mixin for the views that use SignInAddressThrottle: a response below 400 gives the
    attempt back; a cache failure is answered 503 with Retry-After in the API's error shape."""

    def handle_exception(self, exc):
        if isinstance(exc, SignInUnavailable):
            return sign_in_unavailable_response(self.request)
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        if response.status_code < 400:
            give_back_sign_in_attempt(request._request)
        return super().finalize_response(request, response, *args, **kwargs)

"""One sign-in attempt, wherever a person proves who they are: the browser's password and second-factor
steps, the JWT endpoint and sudo. Each asks first whether the account is locked out from this address
(django-axes, with the account-wide rule of LockoutHandler), counts a wrong password or code toward it,
records the failure in the person's organizations' audit logs, and says whether this failure locked the
account. A code held back by the second factor's back-off is not checked, so it is no failure."""

import math
from dataclasses import dataclass

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, user_login_failed
from django.db import transaction
from django.db.models import Sum

from accounts.actions import mfa


# Brute force (django-axes). Two rules, both configurable: AXES_FAILURE_LIMIT failures for one account
# from one address, and AXES_ACCOUNT_FAILURE_LIMIT failures for one account from all addresses together
# (django-axes has one limit for all its parameter sets, so the second rule is LockoutHandler's).
# Django's authenticate() turns a lockout into a plain failure, so callers ask first, and an attempt
# refused for a lockout is not counted again (the cool-off is not pushed back by the attacker it holds off).


def axes_username(request, credentials=None):
    """AXES_USERNAME_CALLABLE: the email, lower-cased, so that 'Alice@X' and 'alice@x' are one account.
    Our forms send ``email``; Django's own login forms (the admin's) send ``username``."""
    if credentials:
        value = credentials.get("email") or credentials.get("username")
    else:
        data = getattr(request, "POST", None) or {}
        value = data.get("email") or data.get("username")
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


def account_failure_limit():
    return settings.AXES_ACCOUNT_FAILURE_LIMIT


class LockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler (AXES_HANDLER) with the account-wide rule added: an account is also
    locked once its failures from every address together reach AXES_ACCOUNT_FAILURE_LIMIT within the
    cool-off. Every entry point that asks django-axes (our sign-in steps, the JWT endpoint, the admin
    login through AxesStandaloneBackend) gets both rules."""

    def account_attempts(self, request, credentials=None):
        username = get_client_username(request, credentials)
        if not username:
            return AccessAttempt.objects.none()
        attempts = AccessAttempt.objects.filter(username=username)
        if settings.AXES_COOLOFF_TIME is not None:
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        return attempts

    def account_locked(self, request, credentials=None):
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return False
        failures = self.account_attempts(request, credentials).aggregate(n=Sum("failures_since_start"))["n"] or 0
        return failures >= account_failure_limit()

    def is_locked(self, request, credentials=None):
        return super().is_locked(request, credentials) or self.account_locked(request, credentials)

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        was_locked = getattr(request, "axes_locked_out", False)
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None:
            return
        if not request.axes_locked_out and self.account_locked(request, credentials):
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send("axes", request=request, username=get_client_username(request, credentials),
                                 ip_address=request.axes_ip_address)
        if request.axes_locked_out and not was_locked:  # this failure reached a limit
            record_for_email(get_client_username(request, credentials), "auth.locked_out")

    def lock_rules(self, request, credentials=None):
        """(attempts, limit) of each rule: the per-address ones of AXES_LOCKOUT_PARAMETERS, then the account's."""
        limit = get_failure_limit(request, credentials)
        return [(attempts, limit) for attempts in self.get_user_attempts(request, credentials)] + [
            (self.account_attempts(request, credentials), account_failure_limit())]


def lockout_seconds(request, email):
    """Seconds until this address may try this email again, or None when it may now."""
    credentials = {"email": email}
    if AxesProxyHandler.is_allowed(request, credentials):
        return None
    return lockout_retry_after(request, credentials)


def lockout_retry_after(request, credentials):
    """When every rule that holds has let go: each holds while the failures of its attempts still in the
    cool-off reach its limit, so until enough of the oldest attempts have aged out."""
    AxesProxyHandler.update_request(request)
    cool_off = get_cool_off(request)
    if cool_off is None:
        return 3600
    now = request.axes_attempt_time
    handler = AxesProxyHandler.get_implementation()
    rules = handler.lock_rules(request, credentials) if hasattr(handler, "lock_rules") else []
    wait = 0.0
    for attempts, limit in rules:
        rows = list(attempts.order_by("attempt_time").values_list("attempt_time", "failures_since_start"))
        total = sum(failures for _, failures in rows)
        for when, failures in rows:
            if total < limit:
                break
            wait = max(wait, (when + cool_off - now).total_seconds())
            total -= failures
    return max(1, math.ceil(wait)) if rules else math.ceil(cool_off.total_seconds())


def count_failure(request, email):
    """A failure that authenticate() did not see (a wrong second factor) counts like a wrong password."""
    user_login_failed.send(sender=__name__, credentials={"email": email}, request=request)


def record_for_email(email, action, metadata=None):
    """An account event for whoever has this email; an unknown email belongs to no organization's log."""
    user = get_user_model().objects.filter(email=email).first() if email else None
    if user is not None:
        with transaction.atomic():
            mfa.record_for_user(action, user, metadata)


def record_failure(email, step):
    """A failed sign-in step ("password", "second_factor", "sudo"), in the person's organizations' logs."""
    record_for_email(email, "auth.login_failed", {"step": step})


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to. ``passed``: the person (a password) or the device (a code) that matched.
    ``locked_for``: seconds to wait, when the account was already locked out from this address (nothing
    was checked) or this failure locked it. ``backing_off``: seconds the codes are held back (not checked,
    not a failure)."""

    passed: object = None
    checked: bool = True  # False: refused before anything was checked (locked out, or codes held back)
    locked_for: int | None = None
    backing_off: int | None = None

    @property
    def failed(self):
        return self.checked and self.passed is None


def _locked_after_failure(request, email):
    """Seconds to wait when this failure reached a lockout, else None."""
    wait = lockout_seconds(request, email)
    if wait is None and getattr(request, "axes_locked_out", False):
        wait = 1
    return wait


def password_attempt(request, email, password, *, step="password", lockout_checked=False):
    """The password of ``email`` (lower-cased); authenticate() counts a wrong one toward the lockout.
    ``lockout_checked``: the caller has already asked whether the account is locked."""
    if not lockout_checked and (wait := lockout_seconds(request, email)) is not None:
        return Attempt(checked=False, locked_for=wait)
    user = authenticate(request, email=email, password=password)
    if user is None:
        record_failure(email, step)
        return Attempt(locked_for=_locked_after_failure(request, email))
    return Attempt(passed=user)


def code_attempt(request, user, code, *, email, step="second_factor", lockout_checked=False):
    """A second-factor code of ``user`` (a used one no longer matches), signing in as ``email``; a wrong
    one counts as a wrong password would. ``lockout_checked``: the caller has already asked."""
    if not lockout_checked and (wait := lockout_seconds(request, email)) is not None:
        return Attempt(checked=False, locked_for=wait)
    device, backing_off = mfa.verify_code(user, code)
    if device is not None:
        return Attempt(passed=device)
    if backing_off is not None:
        return Attempt(checked=False, backing_off=backing_off)
    count_failure(request, email)
    record_failure(email, step)
    return Attempt(locked_for=_locked_after_failure(request, email))

"""Browser sign-in: email and password, then, for a person with a second factor, a code from their
authenticator app or one of their backup codes. The session (and its new id) is granted only after both:
between the steps the session holds nothing but who is half-way, for five minutes.

django-axes counts every failure (passwords and codes) and locks both steps (and the JWT endpoint) for an
account after AXES_FAILURE_LIMIT failures from one address or AXES_ACCOUNT_FAILURE_LIMIT from all of them.
Before either step looks at anything, the attempt is taken from its address's sign-in budget, shared
with the token endpoints (accounts.auth.throttling): 429 once spent, 503 while the cache cannot count it."""

import math
import time

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model, login as auth_login, user_login_failed
from django.contrib.auth.views import LoginView, LogoutView, RedirectURLMixin
from django.db import transaction
from django.db.models import Sum
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.generic import FormView
from django_otp import login as otp_login

from accounts.actions import mfa
from accounts.auth.throttling import (UNAVAILABLE_RETRY_AFTER, SignInUnavailable, give_back_sign_in_attempt,
                                 take_sign_in_attempt)
from core.errors import RATE_LIMIT, error_response

PENDING = "openpaas_pending_sign_in"
PENDING_SECONDS = 5 * 60

LOCKED_MESSAGE = "Too many failed sign-ins. Try again later."


def _in_words(wait):
    if wait is None or wait < 60:
        return f"{max(1, wait or 1)} second{'s' if wait != 1 else ''}"
    minutes = math.ceil(wait / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def locked_message(wait):
    """What the locked page says: when to try again."""
    return f"Too many failed sign-ins. Try again in {_in_words(wait)}."


def address_refusal(request):
    """(status, message, Retry-After) refusing a sign-in attempt before it is looked at: its address has
    spent its budget (429), or the budget cannot be counted now (503); None when it may go on."""
    try:
        attempt = take_sign_in_attempt(request)
    except SignInUnavailable:
        return 503, f"Signing in is unavailable for a moment. Try again in {_in_words(UNAVAILABLE_RETRY_AFTER)}.", \
            UNAVAILABLE_RETRY_AFTER
    if attempt is not None and attempt.refused:
        return (429, f"Too many sign-in attempts from your network. Try again in {_in_words(attempt.retry_after)}.",
                attempt.retry_after)
    return None


def _with_retry_after(response, status, retry_after):
    response.status_code = status
    response["Retry-After"] = str(retry_after)
    return response


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
    return _retry_after(request, credentials)


def _retry_after(request, credentials):
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


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the answer to a request django-axes has just locked out. Our own views
    already answer a lockout (429 with Retry-After) and keep their answer; otherwise the API gets its
    JSON error and the browser gets the sign-in page saying when to try again."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    wait = _retry_after(request, credentials or {"email": axes_username(request, credentials)})
    if request.path.startswith("/api/"):
        message = f"Too many requests. Retry after {wait} second{'s' if wait != 1 else ''}."
        return error_response(429, RATE_LIMIT, "rate_limited", message, request=request, headers={"Retry-After": str(wait)})
    response = render(request, "accounts/sign_in.html", {"form": SignInForm(request), "locked": locked_message(wait)},
                      status=429)
    response["Retry-After"] = str(wait)
    return response


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)

    error_messages = {
        # The same for an unknown email and a wrong password.
        "invalid_login": "Incorrect email or password.",
        "locked": LOCKED_MESSAGE,
    }

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user_cache = None
        self.retry_after = None
        super().__init__(*args, **kwargs)

    def clean(self):
        email, password = self.cleaned_data.get("email"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        email = email.lower()
        self.retry_after = lockout_seconds(self.request, email)
        if self.retry_after is not None:
            raise forms.ValidationError(locked_message(self.retry_after), code="locked")
        user = authenticate(self.request, email=email, password=password)
        if user is None:
            record_failure(email, "password")
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        self.user_cache = user
        return self.cleaned_data

    def get_user(self):
        return self.user_cache


def record_for_email(email, action, metadata=None):
    """An account event for whoever has this email; an unknown email belongs to no organization's log."""
    user = get_user_model().objects.filter(email=email).first() if email else None
    if user is not None:
        with transaction.atomic():
            mfa.record_for_user(action, user, metadata)


def record_failure(email, step):
    """A failed sign-in step ("password", "second_factor", "sudo"), in the person's organizations' logs."""
    record_for_email(email, "auth.login_failed", {"step": step})


def _locked(response, retry_after):
    return _with_retry_after(response, 429, retry_after)


def complete_sign_in(request, user, device=None):
    """The session: a new id, the person, and (with a device) the second factor it was verified by."""
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    if device is not None:
        otp_login(request, device)
    with transaction.atomic():
        mfa.record_for_user("auth.login", user, {"second_factor": device.__class__.__name__ if device else None})


class SignInView(LoginView):
    """Step one. A person with a second factor goes on to step two; anyone else is signed in (and, if
    they must have a second factor, sent to enrolment by SessionPolicyMiddleware)."""

    template_name = "accounts/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = False

    def post(self, request, *args, **kwargs):
        refusal = address_refusal(request)
        if refusal is not None:
            status, message, retry_after = refusal
            # An unbound form: a bound one would be validated (a password checked) while the page renders.
            response = render(request, self.template_name, {"form": SignInForm(request), "locked": message,
                                                            "next": self.get_redirect_url()})
            return _with_retry_after(response, status, retry_after)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        give_back_sign_in_attempt(self.request)  # the right password: not held against the address
        user = form.get_user()
        if mfa.has_second_factor(user):
            self.request.session.cycle_key()
            self.request.session[PENDING] = {"user": user.pk, "email": user.email, "at": time.time(),
                                             "next": self.get_redirect_url()}
            return redirect("login-verify")
        complete_sign_in(self.request, user)
        return redirect(self.get_success_url())

    def form_invalid(self, form):
        response = super().form_invalid(form)
        return _locked(response, form.retry_after) if form.has_error("__all__", "locked") else response


class SecondFactorForm(forms.Form):
    code = forms.CharField(max_length=32, strip=True,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}))


class SecondFactorView(RedirectURLMixin, FormView):
    """Step two: a code from the authenticator app, or a backup code (each works once)."""

    template_name = "accounts/second_factor.html"
    form_class = SecondFactorForm

    def dispatch(self, request, *args, **kwargs):
        pending = request.session.get(PENDING)
        if not pending or time.time() - pending["at"] > PENDING_SECONDS:
            request.session.pop(PENDING, None)
            return redirect("login")
        self.pending = pending
        self.user = get_user_model().objects.filter(pk=pending["user"], is_active=True).first()
        if self.user is None:
            return redirect("login")
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        refusal = address_refusal(request)
        if refusal is not None:
            status, message, retry_after = refusal
            form = self.get_form_class()({"code": "-"})  # bound (the template shows bound errors), never checked
            form.is_valid()
            form.add_error(None, message)
            return _with_retry_after(self.form_invalid(form), status, retry_after)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = self.pending["email"]
        retry_after = lockout_seconds(self.request, email)
        if retry_after is not None:
            form.add_error(None, locked_message(retry_after))
            return _locked(self.form_invalid(form), retry_after)
        device, wait = mfa.verify_code(self.user, form.cleaned_data["code"])
        if device is None and wait is not None:
            # Backing off after wrong codes: this one was not even checked, so it is not a failure.
            form.add_error("code", mfa.backing_off_message(wait))
            return _with_retry_after(self.form_invalid(form), 429, wait)
        if device is None:
            count_failure(self.request, email)
            record_failure(email, "second_factor")
            retry_after = lockout_seconds(self.request, email)
            if retry_after is not None:
                form.add_error(None, locked_message(retry_after))
                return _locked(self.form_invalid(form), retry_after)
            form.add_error("code", "That code is wrong or was already used.")
            return self.form_invalid(form)
        give_back_sign_in_attempt(self.request)
        next_url = self.pending.get("next") or ""
        del self.request.session[PENDING]
        complete_sign_in(self.request, self.user, device)
        return redirect(next_url or reverse("account"))


class SignOutView(LogoutView):
    """Ends the session on the server: the old cookie no longer signs anyone in."""

    template_name = "accounts/signed_out.html"

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            with transaction.atomic():
                mfa.record_for_user("auth.logout", request.user)
        return super().post(request, *args, **kwargs)

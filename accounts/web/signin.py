"""Browser sign-in: email and password, then, for a person with a second factor, a code from their
authenticator app or one of their backup codes. The session (and its new id) is granted only after both:
between the steps the session holds nothing but who is half-way, for five minutes.

django-axes counts every failure (passwords and codes) and locks both steps (and the JWT endpoint) for an
account after AXES_FAILURE_LIMIT failures from one address or AXES_ACCOUNT_FAILURE_LIMIT from all of them.
Before either step looks at anything, the attempt is taken from its address's sign-in budget, shared
with the token endpoints (accounts.auth.throttling): 429 once spent, 503 while the cache cannot count it."""

import math
import time

from django import forms
from django.contrib.auth import get_user_model, login as auth_login
from django.contrib.auth.views import LoginView, LogoutView, RedirectURLMixin
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.generic import FormView
from django_otp import login as otp_login

from accounts.actions import mfa
from accounts.auth.attempts import axes_username, code_attempt, lockout_retry_after, password_attempt
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


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the answer to a request django-axes has just locked out. Our own views
    already answer a lockout (429 with Retry-After) and keep their answer; otherwise the API gets its
    JSON error and the browser gets the sign-in page saying when to try again."""
    if original_response is not None and original_response.status_code == 429:
        return original_response
    wait = lockout_retry_after(request, credentials or {"email": axes_username(request, credentials)})
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
        attempt = password_attempt(self.request, email.lower(), password)
        if not attempt.checked:  # locked out: not even tried
            self.retry_after = attempt.locked_for
            raise forms.ValidationError(locked_message(self.retry_after), code="locked")
        if attempt.failed:  # a failure that locks the account is answered by django-axes' lockout response
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        self.user_cache = attempt.passed
        return self.cleaned_data

    def get_user(self):
        return self.user_cache


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
        attempt = code_attempt(self.request, self.user, form.cleaned_data["code"], email=self.pending["email"])
        if attempt.locked_for is not None:
            form.add_error(None, locked_message(attempt.locked_for))
            return _locked(self.form_invalid(form), attempt.locked_for)
        if attempt.backing_off is not None:  # held back after wrong codes: not checked, so not a failure
            form.add_error("code", mfa.backing_off_message(attempt.backing_off))
            return _with_retry_after(self.form_invalid(form), 429, attempt.backing_off)
        if attempt.failed:
            form.add_error("code", "That code is wrong or was already used.")
            return self.form_invalid(form)
        device = attempt.passed
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

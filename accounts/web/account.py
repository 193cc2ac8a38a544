"""The signed-in person's pages: their organizations (and which one they are working in), and account
security: second factors, backup codes, browser sessions, password, and their own API keys.

Sensitive actions (creating or rolling a key, turning two-factor off, new backup codes, a new
password) need "sudo": the password or a code confirmed in the last OPENPAAS_SUDO_SECONDS, as GitHub does.
"""

from base64 import b32encode
from importlib import import_module

from django import forms
from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views import View
from django.views.generic import TemplateView
from django_otp import login as otp_login

from accounts.actions import mfa
from accounts.actions.api_keys import create_api_key, revoke_api_key, roll_api_key
from accounts.web.sessions import live_sessions, rekey_session
from accounts.models import APIKey, AuthenticatorDevice, BackupCodeDevice, Member, UserSession
from core.principal import session_principal
from accounts.auth.attempts import Attempt, code_attempt, lockout_seconds, password_attempt
from accounts.web.signin import locked_message
from core.errors import Conflict
from core.sudo import confirm_sudo, sudo_is_fresh

ORGANIZATION = "openpaas_organization"


def current_membership(request):
    """The organization the person works in: their choice, held in this session (never a "last used"
    field on the account), or their first membership."""
    memberships = Member.unscoped.filter(user=request.user).select_related("organization", "user")  # every organization of the person
    chosen = memberships.filter(organization_id=request.session.get(ORGANIZATION)).first()
    return chosen or memberships.order_by("organization__name").first()


def require_sudo(request):
    """None when sudo is fresh, else the redirect to confirm it (then back to where the person was)."""
    if sudo_is_fresh(request):
        return None
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("account-security")
    return redirect(f"{reverse('sudo')}?{urlencode({'next': back})}")


class HomeView(TemplateView):
    """/: signed out, what this is and where to sign in or read the API docs; signed in, the organization
    the person works in and their keys there (masked: prefix and last four characters), with the links."""

    template_name = "accounts/home.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.is_authenticated:
            current = current_membership(self.request)
            keys = current.api_keys.usable().order_by("-livemode", "created_at") if current else []
            context.update(current=current, keys=keys)
        return context


class AccountView(LoginRequiredMixin, TemplateView):
    """Where sign-in lands: who you are, your organizations, and which one you are working in."""

    template_name = "accounts/account.html"

    def get_context_data(self, **kwargs):
        memberships = Member.unscoped.filter(user=self.request.user).select_related("organization").order_by("organization__name")
        return {**super().get_context_data(**kwargs), "memberships": memberships,
                "current": current_membership(self.request)}

    def post(self, request):
        organization_id = request.POST.get("organization", "")
        if not Member.objects.filter(user=request.user, organization_id=organization_id).exists():
            raise Http404
        request.session[ORGANIZATION] = organization_id
        return redirect("account")


class SudoForm(forms.Form):
    secret = forms.CharField(max_length=4096, strip=False, label="Your password or a two-factor code",
                             widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class SudoView(LoginRequiredMixin, View):
    """Confirm it is still you, with your password or a code, before a sensitive action."""

    def _next(self, request):
        target = request.POST.get("next") or request.GET.get("next") or ""
        return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else reverse("account-security")

    def get(self, request):
        return render(request, "accounts/sudo.html", {"form": SudoForm(), "next": self._next(request)})

    def post(self, request):
        form = SudoForm(request.POST)
        status, wait = 400, None
        if form.is_valid():
            attempt, backup_codes_held_back = self._attempt(request, form.cleaned_data["secret"])
            if attempt.passed is not None:
                confirm_sudo(request)
                with transaction.atomic():
                    mfa.record_for_user("auth.sudo", request.user)
                return redirect(self._next(request))
            if attempt.locked_for is not None:  # locked out, or this failure reached the limit
                form.add_error("secret", locked_message(attempt.locked_for))
                status, wait = 429, attempt.locked_for
            elif attempt.backing_off is not None:
                # A code held back after wrong ones was not checked: not a failure, and not "wrong".
                form.add_error("secret", mfa.backing_off_message(attempt.backing_off))
                status, wait = 429, attempt.backing_off
            elif backup_codes_held_back is not None:  # not the password, and the backup codes were held back
                form.add_error("secret", "That is not your password. " + mfa.backing_off_message(backup_codes_held_back))
            else:
                form.add_error("secret", "That is neither your password nor a current code.")
        response = render(request, "accounts/sudo.html", {"form": form, "next": self._next(request)}, status=status)
        if status == 429:
            response["Retry-After"] = str(wait)
        return response

    @staticmethod
    def _attempt(request, secret):
        """(the sign-in attempt, seconds the backup codes are held back or None), for the password or a
        code. An authenticator code is checked only as a code (no password is six digits), so confirming
        with codes never counts as wrong passwords toward the lockout; a wrong code counts as one
        failure, as on the sign-in page. A backup code's shape may also be a password's: it is tried as
        both, and counts once, as a password."""
        user = request.user
        wait = lockout_seconds(request, user.email)
        if wait is not None:
            return Attempt(checked=False, locked_for=wait), None
        has_second_factor = mfa.has_second_factor(user)
        if has_second_factor and mfa.is_authenticator_code(secret):
            return code_attempt(request, user, secret, email=user.email, step="sudo", lockout_checked=True), None
        backing_off = None
        if has_second_factor and mfa.is_backup_code(secret):
            device, backing_off = mfa.verify_code(user, secret)
            if device is not None:
                return Attempt(passed=device), None
        return password_attempt(request, user.email, secret, step="sudo", lockout_checked=True), backing_off


class SecurityView(LoginRequiredMixin, TemplateView):
    template_name = "accounts/security.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        membership = current_membership(self.request)
        keys = membership.api_keys.order_by("-created_at") if membership else APIKey.objects.none()
        return {
            **super().get_context_data(**kwargs),
            "authenticator": AuthenticatorDevice.objects.filter(user=user, confirmed=True).first(),
            "backup_codes": BackupCodeDevice.objects.filter(user=user).first(),
            "must_have_mfa": mfa.must_have_second_factor(user),
            "sessions": live_sessions(user),
            "this_session": self.request.session.session_key,
            "membership": membership,
            "keys": keys,
            "scope_choices": sorted(membership.max_scopes()) if membership else [],
            "sudo": sudo_is_fresh(self.request),
        }


class EnrolView(LoginRequiredMixin, View):
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a first code,
    and keep the ten backup codes shown once."""

    def get(self, request):
        if AuthenticatorDevice.objects.filter(user=request.user, confirmed=True).exists():
            return redirect("account-security")
        return self._page(request, mfa.pending_authenticator(request.user))

    def _page(self, request, device, error=None, status=200):
        url = device.config_url()
        return render(request, "accounts/enrol.html", {
            "qr_svg": mfa.qr_svg(url), "secret": b32encode(device.bin_key).decode(), "error": error,
            "must": mfa.must_have_second_factor(request.user)}, status=status)

    def post(self, request):
        if AuthenticatorDevice.objects.filter(user=request.user, confirmed=True).exists():
            return redirect("account-security")  # a second one only after removing the first (with sudo)
        device = mfa.pending_authenticator(request.user)
        codes, wait = mfa.confirm_authenticator(device, request.POST.get("code", ""))
        if wait is not None:  # held back after wrong codes, so not checked: the right one may be refused now
            response = self._page(request, device, mfa.backing_off_message(wait), 429)
            response["Retry-After"] = str(wait)
            return response
        if codes is None:
            return self._page(request, device, "That code is not right. Check the time on your phone and try the next one.", 400)
        otp_login(request, device)  # this session has now passed the second factor
        return render(request, "accounts/backup_codes.html", {"codes": codes, "first_time": True})


class BackupCodesView(LoginRequiredMixin, View):
    def post(self, request):
        if not mfa.has_second_factor(request.user):
            return redirect("mfa-enrol")
        if (needed := require_sudo(request)) is not None:
            return needed
        return render(request, "accounts/backup_codes.html", {"codes": mfa.replace_backup_codes(request.user)})


class RemoveSecondFactorsView(LoginRequiredMixin, View):
    def post(self, request):
        if (needed := require_sudo(request)) is not None:
            return needed
        if not mfa.remove_second_factors(request.user):
            return render(request, "accounts/refused.html",
                          {"reason": "Your role or organization requires two-factor authentication."}, status=409)
        return redirect("account-security")


def _end_session(session_key):
    store = import_module(settings.SESSION_ENGINE).SessionStore
    store(session_key=session_key).delete()


def end_other_sessions(request, only=None):
    """End the person's other browser sessions (or only the one recorded as ``only``), on the server.
    Returns how many ended."""
    others = UserSession.objects.filter(user=request.user).exclude(session_key=request.session.session_key)
    if only is not None:
        others = others.filter(pk=only)
    ended = list(others)
    with transaction.atomic():
        for record in ended:
            _end_session(record.session_key)
            record.delete()
        if ended:
            mfa.record_for_user("auth.session_revoked", request.user, {"count": len(ended)})
    return len(ended)


class EndSessionsView(LoginRequiredMixin, View):
    """End one of your other browser sessions (``session`` = its id), or all of them (``all``)."""

    def post(self, request):
        if request.POST.get("all") == "others":
            end_other_sessions(request)
        else:
            session_id = request.POST.get("session", "")
            if not session_id.isascii() or not session_id.isdigit() or len(session_id) > 18:
                return render(request, "accounts/refused.html", {"reason": "No such session."}, status=400)
            end_other_sessions(request, only=int(session_id))
        return redirect("account-security")


class PasswordView(LoginRequiredMixin, View):
    def get(self, request):
        if (needed := require_sudo(request)) is not None:
            return needed
        return render(request, "accounts/password.html", {"form": PasswordChangeForm(request.user)})

    def post(self, request):
        if (needed := require_sudo(request)) is not None:
            return needed
        form = PasswordChangeForm(request.user, request.POST)
        if not form.is_valid():
            return render(request, "accounts/password.html", {"form": form}, status=400)
        old_key = request.session.session_key
        with transaction.atomic():
            form.save()
            mfa.record_for_user("auth.password_changed", request.user)
        # This session goes on, under a new id; every other one ends now (not only when next used).
        update_session_auth_hash(request, form.user)
        rekey_session(old_key, request.session.session_key)
        end_other_sessions(request)
        return render(request, "accounts/done.html", {"message": "Your password is changed."})


class KeyForm(forms.Form):
    name = forms.CharField(max_length=200)
    livemode = forms.BooleanField(required=False)
    scopes = forms.MultipleChoiceField(choices=[])

    def __init__(self, *args, allowed, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(scope, scope) for scope in sorted(allowed)]


def _own_key(membership, key_id):
    """The person's own key in the organization they work in; 404 for any other (or none)."""
    return membership.api_keys.filter(pk=key_id).first() or _not_found()


def _create_own_key(request, membership, key_id=None):
    if (needed := require_sudo(request)) is not None:
        return needed
    form = KeyForm(request.POST, allowed=membership.max_scopes())
    if not form.is_valid():
        return render(request, "accounts/refused.html", {"reason": "Give the key a name and at least one scope."}, status=400)
    livemode = form.cleaned_data["livemode"]
    api_key, secret = create_api_key(
        member=membership, livemode=livemode, name=form.cleaned_data["name"], scopes=form.cleaned_data["scopes"],
        principal=session_principal(membership, livemode))
    return render(request, "accounts/key_created.html", {"api_key": api_key, "secret": secret})


def _revoke_own_key(request, membership, key_id):
    # No sudo: revoking only takes access away.
    api_key = _own_key(membership, key_id)
    revoke_api_key(principal=session_principal(membership, api_key.livemode), api_key=api_key)
    return redirect("account-security")


def _roll_own_key(request, membership, key_id):
    if (needed := require_sudo(request)) is not None:
        return needed
    api_key = _own_key(membership, key_id)
    try:
        new_key, secret = roll_api_key(principal=session_principal(membership, api_key.livemode),
                                                api_key=api_key, expires_in=24 * 3600)
    except Conflict as conflict:
        return render(request, "accounts/refused.html", {"reason": str(conflict.detail)}, status=409)
    return render(request, "accounts/key_created.html", {"api_key": new_key, "secret": secret, "rolled": api_key})


class OwnKeysView(LoginRequiredMixin, View):
    """Your own API keys in the organization you work in: create (shown once), roll, revoke."""

    # The URL's verb (none: create) to what it does; any other verb is a 404.
    actions = {None: _create_own_key, "revoke": _revoke_own_key, "roll": _roll_own_key}

    def post(self, request, key_id=None, verb=None):
        membership = current_membership(request)
        action = self.actions.get(verb)
        if membership is None or action is None:
            raise Http404
        return action(request, membership, key_id)


def _not_found():
    raise Http404

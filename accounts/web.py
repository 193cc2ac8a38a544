"""Browser pages: sign-in (password, then a TOTP code for people with a device) and the OAuth consent
page. Server-rendered, no JavaScript. The full sign-in flow (two steps, backup codes, enrolment) is
built on this in the browser sign-in work."""

import hashlib

from django import forms
from django.contrib.auth import authenticate, login as auth_login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import LoginView, LogoutView
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.views.generic import TemplateView
from django_otp import devices_for_user, login as otp_login, match_token
from oauthlib.common import Request as OAuthlibRequest
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.views import AuthorizationView, IntrospectTokenView

from accounts.models import Member, OAuthApplication
from accounts.oauth import OPENID, RegistryScopes


class SignInForm(forms.Form):
    email = forms.EmailField(max_length=254)
    password = forms.CharField(max_length=4096, strip=False, widget=forms.PasswordInput)
    otp = forms.CharField(max_length=16, required=False, label="Two-factor code",
                          widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))

    error_messages = {
        "invalid_login": "Incorrect email or password.",
        "otp_required": "Enter the code from your authenticator app.",
        "otp_invalid": "That code is wrong or was already used.",
        "locked": "Too many failed sign-ins. Try again later.",
    }

    def __init__(self, request=None, *args, **kwargs):
        self.request = request
        self.user_cache = None
        self.device = None
        super().__init__(*args, **kwargs)

    def clean(self):
        email, password = self.cleaned_data.get("email"), self.cleaned_data.get("password")
        if not email or not password:
            return self.cleaned_data
        try:
            user = authenticate(self.request, email=email.lower(), password=password)
        except PermissionDenied:  # django-axes: locked out
            raise forms.ValidationError(self.error_messages["locked"], code="locked")
        if user is None:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        if any(True for _ in devices_for_user(user, confirmed=True)):
            code = self.cleaned_data.get("otp")
            if not code:
                raise forms.ValidationError(self.error_messages["otp_required"], code="otp_required")
            self.device = match_token(user, code)
            if self.device is None:
                from django.contrib.auth import user_login_failed

                user_login_failed.send(sender=__name__, credentials={"email": email}, request=self.request)
                raise forms.ValidationError(self.error_messages["otp_invalid"], code="otp_invalid")
        self.user_cache = user
        return self.cleaned_data

    def get_user(self):
        return self.user_cache


class SignInView(LoginView):
    template_name = "accounts/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = False

    def form_valid(self, form):
        auth_login(self.request, form.get_user())  # rotates the session id
        if form.device is not None:
            otp_login(self.request, form.device)
        return super(LoginView, self).form_valid(form)


class AccountView(LoginRequiredMixin, TemplateView):
    """Where sign-in lands: who you are and the organizations you belong to."""

    template_name = "accounts/account.html"

    def get_context_data(self, **kwargs):
        memberships = Member.objects.filter(user=self.request.user).select_related("organization").order_by("organization__name")
        return {**super().get_context_data(**kwargs), "memberships": memberships}


class SignOutView(LogoutView):
    template_name = "accounts/signed_out.html"


def _membership(user, application):
    return Member.objects.filter(organization_id=application.organization_id, user=user).first()


def _needs_second_factor(user):
    return any(True for _ in devices_for_user(user, confirmed=True)) and not user.is_verified()


class ConsentView(AuthorizationView):
    """The consent page: names the organization and each scope in words. The scopes granted never
    exceed the signed-in person's role in the application's organization."""

    template_name = "accounts/consent.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and _needs_second_factor(request.user):
            return render(request, "accounts/consent_refused.html",
                          {"reason": "Sign in again with your two-factor code to authorize applications."}, status=403)
        return super().dispatch(request, *args, **kwargs)

    def _allowed(self, application):
        member = _membership(self.request.user, application)
        if member is None:
            return None
        return member.max_scopes() | {OPENID}

    def validate_authorization_request(self, request):
        scopes, credentials = super().validate_authorization_request(request)
        application = OAuthApplication.objects.select_related("organization").get(client_id=credentials["client_id"])
        allowed = self._allowed(application)
        if allowed is None:
            raise PermissionDenied("not a member")
        self.extra_context = {"organization": application.organization, "scope_words": [
            RegistryScopes().get_all_scopes()[scope] for scope in scopes if scope in allowed]}
        return [scope for scope in scopes if scope in allowed], credentials

    def get(self, request, *args, **kwargs):
        try:
            return super().get(request, *args, **kwargs)
        except PermissionDenied:
            return render(request, "accounts/consent_refused.html",
                          {"reason": "You are not a member of the organization this application belongs to."}, status=403)

    def form_valid(self, form):
        # The form's hidden scope field comes from the browser: narrow it again.
        application = OAuthApplication.objects.filter(client_id=form.cleaned_data.get("client_id")).first()
        allowed = self._allowed(application) if application else None
        if allowed is None:
            return render(self.request, "accounts/consent_refused.html",
                          {"reason": "You are not a member of the organization this application belongs to."}, status=403)
        form.cleaned_data["scope"] = " ".join(s for s in (form.cleaned_data.get("scope") or "").split() if s in allowed)
        return super().form_valid(form)


class OwnTokensIntrospectView(IntrospectTokenView):
    """RFC 7662 introspection for a client about its own tokens: any other token is inactive to it,
    so one organization's client learns nothing of another's tokens."""

    @staticmethod
    def _client(request):
        """The application authenticating this request (HTTP Basic or client_id/client_secret), or None."""
        core = get_oauthlib_core()
        uri, method, body, headers = core._extract_params(request)
        oauth_request = OAuthlibRequest(uri, method, body, headers)
        if not core.server.request_validator.authenticate_client(oauth_request):
            return None
        return oauth_request.client

    def post(self, request, *args, **kwargs):
        client = self._client(request)
        if client is None:
            return JsonResponse({"error": "invalid_client"}, status=401)
        token_value = request.POST.get("token")
        if token_value is None:
            return JsonResponse({"error": "invalid_request", "error_description": "Token parameter is missing."}, status=400)
        checksum = hashlib.sha256(token_value.encode()).hexdigest()
        if not get_access_token_model().objects.filter(token_checksum=checksum, application=client).exists():
            return JsonResponse({"active": False})
        return self.get_token_response(token_value)

    def get(self, request, *args, **kwargs):
        # Tokens never travel in URLs.
        return JsonResponse({"error": "invalid_request", "error_description": "Use POST."}, status=405)

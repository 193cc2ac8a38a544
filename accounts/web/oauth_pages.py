"""Browser pages of OAuth (consent) and invitations, and the OAuth token and introspection endpoints. Sign-in
is in accounts.web.signin, the account pages in accounts.web.account."""

import hashlib
import json
from functools import partial

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView
from django_otp import devices_for_user
from oauthlib.common import Request as OAuthlibRequest
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_access_token_model
from oauth2_provider.oauth2_backends import _add_iss_to_redirect, get_oauthlib_core
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView, IntrospectTokenView, RevokeTokenView, TokenView

from accounts.actions import invitations
from accounts.models import Member, OAuthApplication, User
from accounts.auth.oauth import AUTHORIZING_USER, OPENID, RegistryScopes, member_for_token, within_application
from accounts.web.signin import complete_sign_in
from accounts.auth.throttling import (UNAVAILABLE_RETRY_AFTER, SignInUnavailable, give_back_sign_in_attempt,
                                 take_sign_in_attempt)
from core.errors import Conflict

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
        authorizing = AUTHORIZING_USER.set(request.user)  # for prompt=none (validate_silent_login)
        try:
            return super().dispatch(request, *args, **kwargs)
        finally:
            AUTHORIZING_USER.reset(authorizing)

    def _allowed(self, application):
        member = _membership(self.request.user, application)
        if member is None:
            return None
        return member.max_scopes() | {OPENID}

    def validate_authorization_request(self, request):
        scopes, credentials = super().validate_authorization_request(request)
        if credentials.get("code_challenge_method") != "S256":
            # oauthlib takes a challenge without a method as "plain", and django-oauth-toolkit refuses
            # "plain" only once the person has consented: refuse it before asking them anything.
            raise OAuthToolkitError(
                error=oauth_errors.InvalidRequestError(
                    description='PKCE with code_challenge_method "S256" is required.', state=credentials.get("state")),
                redirect_uri=credentials["redirect_uri"])
        application = OAuthApplication.objects.select_related("organization").get(client_id=credentials["client_id"])
        allowed = self._allowed(application)
        if allowed is None:
            raise PermissionDenied("not a member")
        granted = [scope for scope in scopes if scope in allowed]
        if not granted:
            # Nothing requested is within the person's role. Never let an empty grant fall back to the
            # application's default scopes (all it may ask for).
            raise OAuthToolkitError(error=oauth_errors.InvalidScopeError(
                description="None of the requested scopes is allowed to your role.", state=credentials.get("state")),
                redirect_uri=credentials["redirect_uri"])
        all_scopes = RegistryScopes().get_all_scopes()
        self.extra_context = {"organization": application.organization,
                              "scope_words": [all_scopes[scope] for scope in granted]}
        return granted, credentials

    def redirect(self, redirect_to, application):
        # RFC 9207: every authorization response (codes and errors alike) names the issuer, and it must
        # be the issuer of the discovery document and of ID tokens (django-oauth-toolkit derives it from
        # an RFC 8414 route this server does not mount, and leaves it out of error responses).
        return super().redirect(_add_iss_to_redirect(redirect_to, oauth2_settings.oidc_issuer(self.request)), application)

    def get(self, request, *args, **kwargs):
        if "approval_prompt" in request.GET:
            # django-oauth-toolkit lets the client turn REQUEST_APPROVAL_PROMPT "force" into "auto" and skip
            # this page; the person is asked every time.
            request.GET = request.GET.copy()
            del request.GET["approval_prompt"]
        try:
            return super().get(request, *args, **kwargs)
        except PermissionDenied:
            return render(request, "accounts/consent_refused.html",
                          {"reason": "You are not a member of the organization this application belongs to."}, status=403)

    def form_valid(self, form):
        # The form's hidden fields come from the browser: check them again.
        application = OAuthApplication.objects.filter(client_id=form.cleaned_data.get("client_id")).first()
        allowed = self._allowed(application) if application else None
        if allowed is None:
            return render(self.request, "accounts/consent_refused.html",
                          {"reason": "You are not a member of the organization this application belongs to."}, status=403)
        redirect_uri = form.cleaned_data.get("redirect_uri") or ""
        if not application.redirect_uri_allowed(redirect_uri):
            return render(self.request, "accounts/consent_refused.html",
                          {"reason": "The redirect URI is not registered for this application."}, status=400)
        granted = " ".join(s for s in (form.cleaned_data.get("scope") or "").split() if s in allowed)
        if not granted:
            # oauthlib would read an empty scope as "the application's default scopes".
            return self.error_response(OAuthToolkitError(error=oauth_errors.InvalidScopeError(
                description="None of the requested scopes is allowed to your role.",
                state=form.cleaned_data.get("state")), redirect_uri=redirect_uri), application)
        form.cleaned_data["scope"] = granted
        return super().form_valid(form)


def _oauth_error(error):
    """An oauthlib error as the token endpoints answer it (RFC 6749 section 5.2)."""
    response = JsonResponse(json.loads(error.json), status=error.status_code, headers=error.headers)
    response["Cache-Control"] = "no-store"
    return response


def _oauth_refusal(status, error, description, retry_after):
    """RFC 6749 section 5.2's shape for a request refused before it is looked at."""
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    response["Retry-After"] = str(retry_after)
    return response


def _within_sign_in_budget(request, endpoint, answer):
    """``answer()``, a client's request to an OAuth endpoint that checks its secret, counted as an attempt
    of its address against the sign-in budget shared with /login and the JWT endpoints
    (accounts.auth.throttling), and given back when it succeeds (200): a spent budget is 429 ``slow_down``
    (RFC 8628's token endpoint error for a client asking too often), an unreachable cache 503
    ``temporarily_unavailable``, both with Retry-After and before any secret is checked (each check is a
    password hash: guessing must not burn CPU either)."""
    try:
        attempt = take_sign_in_attempt(request)
    except SignInUnavailable:
        return _oauth_refusal(503, "temporarily_unavailable", f"The {endpoint} endpoint is unavailable for a moment.",
                              UNAVAILABLE_RETRY_AFTER)
    if attempt is not None and attempt.refused:
        return _oauth_refusal(429, "slow_down", f"Too many {endpoint} requests from this address. Retry after "
                              f"{attempt.retry_after} seconds.", attempt.retry_after)
    response = answer()
    if response.status_code == 200:
        give_back_sign_in_attempt(request)
    return response


class SupportedGrantsTokenView(TokenView):
    """The token endpoint for the grants of OAUTH2_GRANT_TYPES_SUPPORTED only. django-oauth-toolkit sends
    the device code grant to its own handler before oauthlib sees the request, and oauthlib's server
    knows grants this one does not offer (password): anything else is unsupported_grant_type. Within
    the sign-in budget (_within_sign_in_budget)."""

    def post(self, request, *args, **kwargs):
        return _within_sign_in_budget(request, "token", partial(self._token_response, request, *args, **kwargs))

    def _token_response(self, request, *args, **kwargs):
        supported = oauth2_settings.OAUTH2_GRANT_TYPES_SUPPORTED
        if any(grant_type not in supported for grant_type in request.POST.getlist("grant_type")):
            return _oauth_error(oauth_errors.UnsupportedGrantTypeError())
        return super().post(request, *args, **kwargs)


class BudgetedRevokeTokenView(RevokeTokenView):
    """RFC 7009 revocation, within the sign-in budget (_within_sign_in_budget): it checks client secrets."""

    def post(self, request, *args, **kwargs):
        return _within_sign_in_budget(request, "revocation", partial(super().post, request, *args, **kwargs))


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(login_not_required, name="dispatch")
class OwnTokensIntrospectView(IntrospectTokenView):
    """RFC 7662 introspection for a client about its own tokens: any other token is inactive to it,
    so one organization's client learns nothing of another's tokens, and so is a token the API
    refuses. Only a client authenticates here (never a bearer token), within the sign-in budget
    (_within_sign_in_budget)."""

    def dispatch(self, request, *args, **kwargs):
        # django-oauth-toolkit's dispatch answers an unauthenticated request with an empty 403; post()
        # authenticates the client itself and answers 401 invalid_client (RFC 7662 section 2.1).
        return View.dispatch(self, request, *args, **kwargs)

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
        return _within_sign_in_budget(request, "introspection", partial(self._introspection, request))

    def _introspection(self, request):
        client = self._client(request)
        if client is None:
            return _oauth_error(oauth_errors.InvalidClientError())
        token_value = request.POST.get("token")
        if token_value is None:
            return JsonResponse({"error": "invalid_request", "error_description": "Token parameter is missing."}, status=400)
        checksum = hashlib.sha256(token_value.encode()).hexdigest()
        token = (get_access_token_model().objects.select_related("application", "user")
                 .filter(token_checksum=checksum, application=client).first())
        # Active exactly when the API would accept it, with the scopes the API would honour.
        if token is None or not token.is_valid() or member_for_token(token) is None:
            return JsonResponse({"active": False})
        data = {"active": True, "scope": " ".join(within_application(token.scope.split(), client)),
                "exp": int(token.expires.timestamp()), "client_id": client.client_id}
        if token.user is not None:
            data["username"] = token.user.get_username()
        if token.resource:
            data["aud"] = token.resource
        return JsonResponse(data)

    def get(self, request, *args, **kwargs):
        # Tokens never travel in URLs.
        return JsonResponse({"error": "invalid_request", "error_description": "Use POST."}, status=405)


class JoinForm(forms.Form):
    """A new person's password, checked by the password validators (12 characters or more, not
    common, not like the email; up to 128 characters, never truncated)."""

    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)
    confirm = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput, label="Password again")

    def __init__(self, *args, email, **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        password, confirm = self.cleaned_data.get("password"), self.cleaned_data.get("confirm")
        if password and confirm and password != confirm:
            raise forms.ValidationError("The two passwords differ.")
        if password:
            password_validation.validate_password(password, User(email=self.email))
        return self.cleaned_data


def _refused(request, conflict):
    """A join that cannot happen (already a member, the link used meanwhile): said on a page, 409."""
    return render(request, "accounts/refused.html", {"reason": conflict.detail}, status=409)


class InvitationView(TemplateView):
    """The link of an invitation email. A newcomer sets a password and joins; someone with an account
    signs in first (as the invited email) and joins. Then, where the role or organization requires it,
    the two-factor enrolment comes next."""

    template_name = "accounts/invitation.html"

    def dispatch(self, request, *args, token, **kwargs):
        self.token = token
        self.invitation = invitations.pending_by_token(token)
        if self.invitation is None:
            return render(request, "accounts/invitation_invalid.html", status=404)
        self.has_account = User.objects.filter(email=self.invitation.email).exists()
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        user = self.request.user
        return {**super().get_context_data(**kwargs), "invitation": self.invitation, "has_account": self.has_account,
                "signed_in_as_invitee": user.is_authenticated and user.email == self.invitation.email,
                "form": kwargs.get("form") or (None if self.has_account else JoinForm(email=self.invitation.email))}

    def post(self, request, *args, **kwargs):
        user = request.user
        if not self.has_account:
            form = JoinForm(request.POST, email=self.invitation.email)
            if not form.is_valid():
                return self.render_to_response(self.get_context_data(form=form), status=400)
            try:
                user = invitations.join(token=self.token, password=form.cleaned_data["password"]).user
            except Conflict as exc:
                return _refused(request, exc)
            complete_sign_in(request, user)
        elif user.is_authenticated and user.email == self.invitation.email:
            try:
                invitations.accept(token=self.token, user=user)
            except Conflict as exc:
                return _refused(request, exc)
        elif invitations.pending_by_token(self.token) is None:
            # The account found in dispatch was made by another join of this link that committed since
            # (they are one transaction): the link is used, as if dispatch had seen it so.
            return render(request, "accounts/invitation_invalid.html", status=404)
        else:
            return self.render_to_response(self.get_context_data(), status=403)
        return redirect(settings.LOGIN_REDIRECT_URL)

"""Helpers for driving the OAuth 2.0 / OpenID Connect and JWT endpoints the way a client and a browser
do: real pages, real forms, real token requests. Shared by tests/accounts and tests/security."""

import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client
from django_otp.oath import TOTP

from accounts.models import AuthenticatorDevice
from accounts.actions.oauth_applications import create_oauth_application

PASSWORD = "correct horse battery staple 42"
REDIRECT_URI = "https://app.example.com/callback"


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def basic_auth(client_id, client_secret):
    raw = f"{client_id}:{client_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def person(tenant, role, password=PASSWORD):
    """The member of ``role`` in ``tenant``, with a password they can sign in with."""
    member = tenant.member(role)
    member.user.set_password(password)
    member.user.save()
    return member


def totp_device(user):
    return AuthenticatorDevice.objects.create(user=user, name="phone", confirmed=True)


def totp_code(device, offset=0):
    """The device's current code (``offset`` steps away)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, 0, device.digits, offset)
    return f"{totp.token():0{device.digits}d}"


def make_application(tenant, *, livemode=False, client_type="confidential", grant_types=("authorization-code",),
                     redirect_uris=(REDIRECT_URI,), allowed_scopes=None, name="Partner portal"):
    """(application, client secret or None), made the way the API makes them."""
    if allowed_scopes is None:
        allowed_scopes = ["connectors:read", "connectors:write", "data:read", "data:write", "webhooks:manage",
                          "org:admin", "audit:read"]
    return create_oauth_application(
        organization=tenant.org, livemode=livemode, name=name, client_type=client_type,
        grant_types=list(grant_types), redirect_uris=list(redirect_uris), allowed_scopes=list(allowed_scopes))


class _Inputs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.fields = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def form_fields(html):
    parser = _Inputs()
    parser.feed(html)
    return parser.fields


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sign_in(browser, email, password=PASSWORD, otp=""):
    """The two sign-in steps: email and password, then (``otp`` given) the second-factor code. Returns
    the last response."""
    response = browser.post("/login", {"email": email, "password": password})
    if otp and response.status_code == 302 and response["Location"].startswith("/login/verify"):
        response = browser.post("/login/verify", {"code": otp})
    return response


def browser_for(user, password=PASSWORD, otp=""):
    browser = Client()
    response = sign_in(browser, user.email, password, otp)
    assert response.status_code == 302, response.content.decode()[:500]
    return browser


def authorize_url(application, *, scope="openid connectors:read", state=None, challenge=None, method="S256",
                  redirect_uri=REDIRECT_URI, response_type="code", **extra):
    params = {"response_type": response_type, "client_id": application.client_id, "redirect_uri": redirect_uri,
              "scope": scope, "state": state or secrets.token_urlsafe(8)}
    if challenge is not None:
        params["code_challenge"] = challenge
    if method is not None and challenge is not None:
        params["code_challenge_method"] = method
    params.update(extra)
    return "/oauth/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None})


def consent(browser, application, *, allow=True, tamper=None, **authorize_kwargs):
    """Open the consent page, then answer it. Returns (consent page response, answer response)."""
    page = browser.get(authorize_url(application, **authorize_kwargs))
    assert page.status_code == 200, page.content.decode()[:800]
    fields = form_fields(page.content.decode())
    fields.pop("csrfmiddlewaretoken", None)
    if tamper:
        fields.update(tamper)
    if allow:
        fields["allow"] = "Authorize"
    return page, browser.post(authorize_url(application, **authorize_kwargs), fields)


def authorization_code(browser, application, **authorize_kwargs):
    """Run the consent step and return the code and the redirect's query."""
    _, answer = consent(browser, application, **authorize_kwargs)
    assert answer.status_code == 302, answer.content.decode()[:800]
    assert answer["Location"].startswith(authorize_kwargs.get("redirect_uri", REDIRECT_URI) + "?")
    query = query_of(answer["Location"])
    return query["code"], query


def token_request(data, application=None, secret=None):
    """POST /oauth/token/ (client authenticated with HTTP Basic when a secret is given)."""
    headers = {}
    data = dict(data)
    if application is not None:
        if secret:
            headers["HTTP_AUTHORIZATION"] = basic_auth(application.client_id, secret)
        else:
            data.setdefault("client_id", application.client_id)
    return Client().post("/oauth/token/", data, **headers)


def exchange(application, secret, code, verifier, redirect_uri=REDIRECT_URI):
    return token_request({"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                          "redirect_uri": redirect_uri}, application, secret)


def refresh(application, secret, refresh_token):
    return token_request({"grant_type": "refresh_token", "refresh_token": refresh_token}, application, secret)


def code_flow(browser, application, secret, *, scope="openid connectors:read", **authorize_kwargs):
    """The whole authorization code flow with PKCE S256: the token response's JSON."""
    verifier, challenge = pkce_pair()
    code, _ = authorization_code(browser, application, scope=scope, challenge=challenge, **authorize_kwargs)
    response = exchange(application, secret, code, verifier)
    assert response.status_code == 200, response.content.decode()
    return response.json()


def client_credentials(application, secret, scope=None):
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    return token_request(data, application, secret)


def introspect(application, secret, token):
    return Client().post("/oauth/introspect/", {"token": token},
                         HTTP_AUTHORIZATION=basic_auth(application.client_id, secret))


def revoke(application, secret, token, hint=None):
    data = {"token": token}
    if hint:
        data["token_type_hint"] = hint
    return Client().post("/oauth/revoke_token/", data, HTTP_AUTHORIZATION=basic_auth(application.client_id, secret))


def api_error(response, status=401):
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]

"""Content-Security-Policy and Permissions-Policy (ASVS 3.4.3, 3.4.6) on every response of every route, read
from the URL conf, signed out and signed in (the console and the account pages): a strict policy (no inline
script or style, nothing from elsewhere, no framing, forms posting only here) that the pages really keep
(no inline script, style or event handler in what they render). The browser proves it in
tests/browser/test_content_security_policy.py."""

from html.parser import HTMLParser

import pytest
from django.contrib.admin.utils import quote
from django.test import Client

from tests.support.oauth import REDIRECT_URI, authorize_url, browser_for, make_application, person, pkce_pair
from tests.resources import ADMIN_OBJECTS, SITE_ROUTES

pytestmark = pytest.mark.django_db

ROUTES = SITE_ROUTES
CASES = [(route, method) for route in ROUTES for method in route.methods]
GET_PAGES = [route for route in ROUTES if "GET" in route.methods and route.family in ("page", "admin")]

POLICY = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "base-uri": ["'none'"],
    "object-src": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
DENIED_FEATURES = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "bluetooth",
                   "display-capture", "publickey-credentials-get", "fullscreen", "autoplay")


def policy_of(response):
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def assert_strict(response, **extra):
    directives = policy_of(response)
    nonces = [s for s in directives.get("script-src", []) if s.startswith("'nonce-")]
    directives["script-src"] = [s for s in directives.get("script-src", []) if s not in nonces]
    expected = {name: sources + extra.get(name.replace("-", "_"), []) for name, sources in POLICY.items()}
    assert directives == expected, response["Content-Security-Policy"]
    permissions = response["Permissions-Policy"]
    for feature in DENIED_FEATURES:
        assert f"{feature}=()" in permissions, feature


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts and styles, event handler attributes,
    javascript: URLs."""

    def __init__(self, nonce):
        super().__init__()
        self.nonce, self.found, self._in = nonce, [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name == "style":
                self.found.append(f"<{tag} style=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "script" and not attrs.get("src") and attrs.get("type") != "application/json":
            self._in = tag if attrs.get("nonce") != self.nonce or not self.nonce else None
        if tag == "style" and (attrs.get("nonce") != self.nonce or not self.nonce):
            self._in = tag

    def handle_data(self, data):
        if self._in and data.strip():
            self.found.append(f"inline <{self._in}>: {data.strip()[:60]}")

    def handle_endtag(self, tag):
        self._in = None


def assert_no_inline_code(response):
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    nonce = next((s[7:-1] for s in policy_of(response).get("script-src", []) if s.startswith("'nonce-")), None)
    parser = InlineCode(nonce)
    parser.feed(response.content.decode())
    assert parser.found == [], parser.found


@pytest.mark.parametrize("route,method", CASES, ids=[f"{route.name}-{method}" for route, method in CASES])
def test_every_response_of_every_route_carries_the_policies(tenant, route, method):
    response = Client().generic(method, route.path())
    assert_strict(response)
    assert_no_inline_code(response)


@pytest.mark.parametrize("route", [r for r in GET_PAGES if r.family == "admin"], ids=lambda r: r.name)
def test_every_console_page_carries_the_policies_and_keeps_them(tenant, console, route):
    values = {}
    for model, make in ADMIN_OBJECTS.items():
        if f"admin/{model._meta.app_label}/{model._meta.model_name}/" in route.route and "object_id" in route.route:
            values["object_id"] = quote(make(tenant).pk)
    response = console.get(route.path(**values))
    assert_strict(response)
    assert_no_inline_code(response)


@pytest.mark.parametrize("route", [r for r in GET_PAGES if r.family == "page"], ids=lambda r: r.name)
def test_every_page_of_a_signed_in_person_carries_the_policies_and_keeps_them(tenant, member_browser, route):
    response = member_browser.get(route.path())
    assert_strict(response)
    assert_no_inline_code(response)


@pytest.mark.parametrize("path", ["/no-such-page", "/api/v1/nope", "/login%00"])
def test_error_pages_carry_the_policies(path):
    response = Client().get(path)
    assert response.status_code in (400, 404)
    assert_strict(response)


# A form sent without its CSRF token (an expired page, another site's form): every route that checks it.
CSRF_CHECKED = [route for route in ROUTES if "POST" in route.methods and not getattr(route.callback, "csrf_exempt", False)]
CSRF_REASONS = ("CSRF", "Referer", "Origin checking")


@pytest.mark.parametrize("route", CSRF_CHECKED, ids=lambda r: r.name)
def test_a_form_refused_for_its_csrf_token_is_our_403_under_the_policies(tenant, route, caplog):
    response = Client(enforce_csrf_checks=True).post(route.path(), {"x": "1"})
    assert response.status_code == 403
    assert_strict(response)
    assert_no_inline_code(response)
    body = response.content.decode()
    assert not any(reason in body for reason in CSRF_REASONS), "the reason is for the log only"
    if route.family in ("api", "oauth") and route.name != "oauth2_provider:authorize":
        assert response.json()["error"]["code"] == "forbidden"
        assert response.json()["error"]["request_id"] == response["X-Request-ID"]
    else:  # people's forms, the consent form among them: the page, saying what to do
        assert response["Content-Type"].startswith("text/html")
        assert "reload the page and send it again" in body and response["X-Request-ID"] in body
    logged = [r for r in caplog.records if r.name == "django.security.csrf"]
    assert len(logged) == 1 and "CSRF cookie not set" in logged[0].getMessage()


def test_the_api_docs_load_their_script_from_a_file(settings, tenant):
    settings.OPENPAAS_PUBLIC_DOCS = True
    page = Client().get("/api/v1/docs")
    assert page.status_code == 200
    assert_strict(page)
    assert_no_inline_code(page)
    html = page.content.decode()
    assert 'src="/api/v1/docs?script="' in html
    script = Client().get("/api/v1/docs?script=")
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_the_enrolment_page_s_qr_code_needs_no_inline_style(tenant):
    admin = person(tenant, "admin")  # an Admin must enrol first: sent to the page with the QR code
    browser = browser_for(admin.user)
    response = browser.get("/account/security/enrol")
    assert response.status_code == 200 and "<svg" in response.content.decode()
    assert_strict(response)
    assert_no_inline_code(response)


# The OAuth consent page: its form is answered with a redirect to the application, which form-action governs.


def test_the_consent_page_lets_its_form_go_on_to_the_registered_redirect_uri_only(tenant):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    browser = browser_for(developer.user)
    page = browser.get(authorize_url(application, challenge=pkce_pair()[1]))
    assert page.status_code == 200 and "<form" in page.content.decode()
    assert_strict(page, form_action=["https://app.example.com"])
    assert_no_inline_code(page)


@pytest.mark.parametrize("redirect_uri", ["https://evil.example.com/callback", REDIRECT_URI + "/more"])
def test_an_unregistered_redirect_uri_adds_nothing_to_the_policy(tenant, redirect_uri):
    developer = person(tenant, "developer")
    application, _ = make_application(tenant)
    page = browser_for(developer.user).get(authorize_url(application, challenge=pkce_pair()[1], redirect_uri=redirect_uri))
    assert_strict(page)


def test_a_redirect_uri_that_could_end_a_directive_adds_nothing(tenant):
    from core.csp import origin_source

    assert origin_source("https://app.example.com:8443/cb?x=1") == "https://app.example.com:8443"
    assert origin_source("https://APP.example.com/cb") == "https://app.example.com"
    assert origin_source("https://[::1]:8443/cb") == "https://[::1]:8443"
    for hostile in ("https://a.example.com;script-src *", "https://a.example.com, *", "https://u@a.example.com/",
                    "javascript:alert(1)", "https://a b.example.com/", "data:text/html,x", "https:///x", "https://"):
        assert origin_source(hostile) is None, hostile


# The middleware builds the settings' policy once; anything per response still goes through django-csp.


def _through_middleware(view):
    from django.test import RequestFactory

    from core.csp import ContentSecurityPolicyMiddleware

    request = RequestFactory().get("/somewhere")
    middleware = ContentSecurityPolicyMiddleware(view)
    middleware.process_request(request)
    return request, middleware.process_response(request, view(request))


def test_the_policy_built_once_is_django_csp_s():
    from csp.utils import build_policy
    from django.http import HttpResponse

    _, response = _through_middleware(lambda request: HttpResponse("ok"))
    assert response["Content-Security-Policy"] == build_policy()


def test_a_page_that_uses_the_nonce_gets_it_in_its_policy():
    from csp.exceptions import CSPNonceError
    from django.http import HttpResponse

    request, response = _through_middleware(lambda request: HttpResponse(f'<script nonce="{request.csp_nonce}">'))
    nonce = str(request.csp_nonce)
    assert f"'nonce-{nonce}'" in policy_of(response)["script-src"]
    assert f'nonce="{nonce}"' in response.content.decode()

    request, response = _through_middleware(lambda request: HttpResponse("no script"))
    assert "nonce" not in response["Content-Security-Policy"]
    with pytest.raises(CSPNonceError):  # too late: it would be in no policy
        str(request.csp_nonce)


def test_a_changed_policy_setting_is_read_again(settings):
    from django.http import HttpResponse

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    _, response = _through_middleware(lambda request: HttpResponse("ok"))
    assert response["Content-Security-Policy"] == "default-src 'self'"

"""Deny by default (ASVS 8.2.1) for every route outside the API, read from the URL conf (the console's
URLs come from the admin site's registry): without a session each browser page, console page and OAuth
endpoint answers a redirect to the sign-in, 401, 403, 404 or 405, unless it is on the explicit public list
below. The API's own table is tests/security/test_permission_table.py.

No caching of what a signed-in person sees (ASVS 14.3.2): every console and account page, from the same
route list, answers ``Cache-Control: no-store``.

A forced error on a page (ASVS 13.4.2, 16.5.1) shows the HTML error page with its request id, no traceback,
SQL or setting, with DEBUG off as in production, and the log line of the error names the request."""

import logging
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.utils import quote
from django.test import Client

from console.site import site as console_site
from tests.resources import ADMIN_OBJECTS, SITE_ROUTES

pytestmark = pytest.mark.django_db

ROUTES = [route for route in SITE_ROUTES if not route.route.startswith("api/")]  # the API has its own table

# Open to anyone, with what they answer without a session. Each hands out nothing that needs one: the sign-in
# itself, its sign-out, an invitation link (whose token is the credential), the OAuth endpoints where the
# client authenticates itself (or nobody, for public metadata), the health probes.
PUBLIC = {
    ("healthz", "GET"): 200,
    ("readyz", "GET"): 200,
    ("oauth-authorization-server", "GET"): 200,
    ("oauth-authorization-server-for-issuer", "GET"): 200,
    ("oauth2_provider:oidc-connect-discovery-info", "GET"): 200,
    ("oauth2_provider:jwks-info", "GET"): 200,
    ("oauth2_provider:token", "POST"): 400,  # no grant_type: the client's request is refused
    ("oauth2_provider:revoke-token", "POST"): 400,
    ("login", "GET"): 200,
    ("login", "POST"): 200,  # the form again, with its errors
    ("login", "PUT"): 200,  # as POST (Django's form views)
    ("logout", "POST"): 200,  # "you are signed out"
    ("accept-invitation", "GET"): 404,  # an unknown token: the "no such invitation" page
    ("accept-invitation", "POST"): 404,
    ("error-codes", "GET"): 200,
    ("home", "GET"): 200,  # what this is, with links to sign in and to the docs  # the error reference every error's doc_url points into
}

DENIED = {401, 403, 404, 405}
SIGN_IN = "/login"

CASES = [(route, method) for route in ROUTES for method in route.methods]


def redirects_to_sign_in(response):
    return response.status_code in (302, 303) and urlsplit(response["Location"]).path == SIGN_IN


def test_every_public_entry_is_a_route_that_exists():
    served = {(route.name, method) for route, method in CASES}
    assert set(PUBLIC) - served == set(), "public-list entries for routes that do not exist"


def test_the_routes_cover_every_model_of_the_console():
    names = {route.name for route in ROUTES}
    for model in console_site._registry:
        opts = model._meta
        for view in ("changelist", "add", "change", "delete", "history"):
            assert f"admin:{opts.app_label}_{opts.model_name}_{view}" in names, (model, view)
    assert len(console_site._registry) >= len(ADMIN_OBJECTS)


@pytest.mark.parametrize("route,method", CASES, ids=[f"{route.name}-{method}" for route, method in CASES])
def test_without_a_session_every_page_is_denied_unless_public(tenant, route, method):
    response = Client().generic(method, route.path())
    if (route.name, method) in PUBLIC:
        assert response.status_code == PUBLIC[(route.name, method)], response.content[:300]
        return
    assert response.status_code in DENIED or redirects_to_sign_in(response), (
        response.status_code, response.get("Location"), response.content[:300])


def test_a_signed_out_person_is_sent_to_the_sign_in_and_back():
    response = Client().get("/admin/accounts/member/")
    assert redirects_to_sign_in(response)
    assert "next=/admin/accounts/member/" in response["Location"]


# 14.3.2: no-store on every console and account page


def _model_of(route):
    for model in ADMIN_OBJECTS:
        if f"admin/{model._meta.app_label}/{model._meta.model_name}/" in route.route:
            return model
    return None


CONSOLE_PAGES = [(route, method) for route, method in CASES if route.family == "admin"]
ACCOUNT_PAGES = [(route, method) for route, method in CASES
                 if route.family == "page" and route.route.startswith(("account", "login", "logout", "invitations"))]


@pytest.mark.parametrize("route,method", CONSOLE_PAGES, ids=[f"{route.name}-{method}" for route, method in CONSOLE_PAGES])
def test_every_console_page_is_no_store(tenant, console, route, method):
    values = {}
    model = _model_of(route)
    if model is not None and "object_id" in route.route:
        values["object_id"] = quote(ADMIN_OBJECTS[model](tenant).pk)
    response = console.generic(method, route.path(**values))
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response.get("Cache-Control"))


@pytest.mark.parametrize("route,method", ACCOUNT_PAGES, ids=[f"{route.name}-{method}" for route, method in ACCOUNT_PAGES])
def test_every_account_page_is_no_store(tenant, member_browser, route, method):
    response = member_browser.generic(method, route.path())
    assert "no-store" in response.get("Cache-Control", ""), (response.status_code, response.get("Cache-Control"))


def test_the_console_pages_really_opened(tenant, console):
    """The no-store table reads real pages, not refusals: a sample opens."""
    for model, make in ADMIN_OBJECTS.items():
        opts = model._meta
        assert console.get(f"/admin/{opts.app_label}/{opts.model_name}/").status_code == 200
        obj = make(tenant)
        assert console.get(f"/admin/{opts.app_label}/{opts.model_name}/{quote(obj.pk)}/change/").status_code == 200


# 13.4.2, 16.5.1: a forced error on a page


@pytest.fixture
def failing_security_page(monkeypatch):
    from accounts.web import account as account_pages

    def explode(self, **kwargs):
        raise RuntimeError("SELECT secret FROM accounts_apikey WHERE password='hunter2'")

    monkeypatch.setattr(account_pages.SecurityView, "get_context_data", explode)


def test_a_forced_error_on_a_page_shows_the_error_page_and_logs_the_request_id(
        tenant, member_browser, failing_security_page, settings, caplog):
    assert settings.DEBUG is False
    member_browser.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = member_browser.get("/account/security")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    request_id = response["X-Request-ID"]
    assert "Something went wrong" in page and request_id in page
    for leak in ("Traceback", "hunter2", "SELECT", "accounts_apikey", "RuntimeError", "SECRET_KEY", "settings"):
        assert leak not in page, leak
    assert response["Content-Security-Policy"] and "no-store" in response["Cache-Control"]
    logged = [record for record in caplog.records if record.levelno >= logging.ERROR and record.exc_info]
    assert logged, "the error is logged with its traceback"
    assert all(getattr(record, "request_id", None) == request_id for record in logged), \
        [getattr(record, "request_id", None) for record in logged]


def test_a_forced_error_in_the_console_is_the_same_page(tenant, console, monkeypatch):
    def explode(request):
        raise RuntimeError("console broke: hunter2")

    monkeypatch.setattr("console.site.overdue_reviews", explode)  # the console's home page reads it
    console.raise_request_exception = False
    response = console.get("/admin/")
    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")
    assert response["X-Request-ID"] in response.content.decode()
    assert "hunter2" not in response.content.decode() and "Traceback" not in response.content.decode()

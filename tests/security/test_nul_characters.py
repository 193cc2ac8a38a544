"""A NUL character in the URL path, a header or a cookie is refused (400) before any view, as in the query
string and form bodies (core.middleware.RefuseNulMiddleware), for every route of the URL conf, in each
family's error shape: the API's JSON error, OAuth's ``{"error": "invalid_request"}``, the HTML page for
people and the console.

PostgreSQL cannot hold NUL in text: a value with one reaching a query was a 500 there (the console's object
URLs, the account page's key URLs, a session cookie, the User-Agent that django-axes stores). Run this file
on PostgreSQL too."""

import pytest
from django.test import Client

from accounts.actions.api_keys import create_api_key
from tests.support.oauth import PASSWORD, person
from tests.support.console import signed_in
from tests.resources import ADMIN_OBJECTS, SITE_ROUTES

pytestmark = pytest.mark.django_db

ROUTES = SITE_ROUTES
NUL = "%00"


def nul_path(route):
    """The route's path with a NUL in each parameter, or, with none, after its last segment."""
    if route.takes_parameters:
        return route.path(default=f"x{NUL}")
    path = route.path()
    return path[:-1] + NUL + "/" if path.endswith("/") else path + NUL


def assert_refused(route_family, response, where="The URL path", code="invalid_path"):
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if route_family == "api":
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["code"] == code
        assert error["message"] == f"{where} must not contain NUL characters."
        assert error["request_id"] == response["X-Request-ID"]
    elif route_family == "oauth":
        assert response.json() == {"error": "invalid_request",
                                   "error_description": f"{where} must not contain NUL characters."}
        assert response["Cache-Control"] == "no-store"
    else:
        assert response["Content-Type"].startswith("text/html")
        assert "Bad request" in response.content.decode()


CASES = [(route, method) for route in ROUTES for method in route.methods]


@pytest.mark.parametrize("route,method", CASES, ids=[f"{route.name}-{method}" for route, method in CASES])
def test_a_nul_in_the_path_of_any_route_is_a_400_in_its_family_s_shape(route, method):
    response = Client().generic(method, nul_path(route))
    assert_refused(route.family, response)


ADMIN_OBJECT_ROUTES = [route for route in ROUTES if route.family == "admin" and "object_id" in route.route]


@pytest.mark.parametrize("route", ADMIN_OBJECT_ROUTES, ids=[route.name for route in ADMIN_OBJECT_ROUTES])
def test_the_console_refuses_an_object_id_with_a_nul_before_looking_it_up(tenant, console, route):
    """The review's case: /admin/<app>/<model>/<id>%00/change/ was a 500 on PostgreSQL."""
    model = next(m for m in ADMIN_OBJECTS if f"admin/{m._meta.app_label}/{m._meta.model_name}/" in route.route)
    obj = ADMIN_OBJECTS[model](tenant)
    for method in ("GET", "POST"):
        response = console.generic(method, route.path(object_id=f"{obj.pk}{NUL}"))
        assert_refused("admin", response)


@pytest.mark.parametrize("verb", ["revoke", "roll"])
def test_an_own_key_url_with_a_nul_is_refused_not_looked_up(tenant, verb):
    """The review's case: POST /account/security/keys/key%00/revoke was a 500 on PostgreSQL."""
    developer = person(tenant, "developer")
    browser = signed_in(developer.user, with_code=False)
    api_key, _ = create_api_key(member=developer, livemode=False, name="laptop", scopes=["connectors:read"])
    response = browser.post(f"/account/security/keys/{api_key.pk}{NUL}/{verb}")
    assert_refused("page", response)
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_an_encoded_percent_sign_is_not_a_nul(tenant):
    """%2500 is the three characters "%00" (no NUL): an ordinary unknown id."""
    response = tenant.client("admin").get("/api/v1/connectors/conn_%2500")
    assert response.status_code == 404


# Headers and cookies: no NUL arrives in them through nginx or gunicorn, but a cookie's value gets one from
# the octal escape \000 inside quotes (Django decodes it), which every server lets through.
QUOTED_NUL_SESSION = '"abcdefgh\\000ijklmnopqrstuvwxyz012345"'


def test_a_session_cookie_with_a_nul_is_refused_not_looked_up(settings):
    response = Client().get("/account", HTTP_COOKIE=f"{settings.SESSION_COOKIE_NAME}={QUOTED_NUL_SESSION}")
    assert_refused("page", response)


def test_a_cookie_with_a_nul_is_refused_by_the_api_too(tenant):
    response = tenant.client("admin").get("/api/v1/me", HTTP_COOKIE=f"anything={QUOTED_NUL_SESSION}")
    assert_refused("api", response, "The Cookie header", "invalid_header")


@pytest.mark.parametrize("path,family", [("/login", "page"), ("/api/v1/auth/token", "api"), ("/oauth/token/", "oauth")])
def test_a_user_agent_with_a_nul_is_refused_before_a_sign_in_stores_it(tenant, path, family):
    developer = person(tenant, "developer")
    response = Client().post(path, {"email": developer.user.email, "password": PASSWORD}, HTTP_USER_AGENT="curl\x00")
    assert_refused(family, response, "The User-Agent header", "invalid_header")

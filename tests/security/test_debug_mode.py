"""With DEBUG on (``make run``), Django answers an unknown URL with its technical 404 page, which lists
every URL pattern of the site, and an error outside any view with its technical 500 page. Programs (the API,
the OAuth endpoints and their metadata) get their JSON error in every mode.

Django redirects a path lacking its trailing slash to the one with it (APPEND_SLASH); a POST it cannot
redirect without losing the body is a RuntimeError (a 500) with DEBUG on and a 301 with DEBUG off, which
clients follow with a GET. A program's write there is a JSON 404 in every mode; a read is redirected."""

import logging

import pytest
from django.test import Client

from core.middleware import BodySizeLimitMiddleware

pytestmark = pytest.mark.django_db

UNKNOWN_PROGRAM_PATHS = ["/api/v1/nope", "/api/v1/me/", "/api/v1/connectors/", "/api/v1/connectors/conn_x/",
                         "/api/", "/api/v2/me", "/oauth/nope/", "/.well-known/nope", "/api", "/oauth", "/.well-known"]
LEAKS = ("Using the URLconf", "config.urls", "admin/", "technical", "<html")


@pytest.fixture
def debug(settings):
    settings.DEBUG = True


@pytest.mark.parametrize("path", UNKNOWN_PROGRAM_PATHS)
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_an_unknown_program_url_is_the_json_404_with_debug_on(debug, tenant, path, method):
    response = tenant.client("admin").generic(method, path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "resource_missing" and error["request_id"] == response["X-Request-ID"]
    body = response.content.decode()
    assert not any(leak in body for leak in LEAKS), body[:300]


def test_the_same_answer_with_debug_off(tenant):
    for path in UNKNOWN_PROGRAM_PATHS:
        response = tenant.client("admin").get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "resource_missing"


def test_an_error_outside_any_view_is_the_json_500_with_debug_on(debug, tenant, monkeypatch):
    def explode(self, request):
        raise RuntimeError("middleware failed; password hunter2")

    monkeypatch.setattr(BodySizeLimitMiddleware, "__call__", explode)
    response = Client(raise_request_exception=False).get("/api/v1/me")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "hunter2" not in response.content.decode() and "Traceback" not in response.content.decode()


def test_people_still_get_django_s_page_in_development(debug):
    response = Client().get("/no-such-page")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


# Endpoints whose path ends with a slash (django-oauth-toolkit's), asked for without it.
UNSLASHED_ENDPOINTS = ["/oauth/token", "/oauth/revoke_token", "/oauth/introspect", "/oauth/userinfo"]


@pytest.mark.parametrize("debug_on", [True, False], ids=["debug", "production"])
@pytest.mark.parametrize("path", UNSLASHED_ENDPOINTS)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_a_program_s_write_without_the_trailing_slash_is_the_json_404_in_every_mode(settings, tenant, caplog, debug_on,
                                                                                    path, method):
    settings.DEBUG = debug_on
    response = Client(raise_request_exception=False).generic(
        method, path, "grant_type=client_credentials&token=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 404, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "resource_missing" and "ends with a slash" in error["message"]
    assert error["request_id"] == response["X-Request-ID"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "nothing went wrong"


@pytest.mark.parametrize("debug_on", [True, False], ids=["debug", "production"])
@pytest.mark.parametrize("path", UNSLASHED_ENDPOINTS)
def test_a_program_s_read_without_the_trailing_slash_is_redirected_in_every_mode(settings, debug_on, path):
    settings.DEBUG = debug_on
    response = Client().get(path, {"a": "1"})
    assert response.status_code == 301 and response["Location"] == f"{path}/?a=1"

"""With DEBUG on (``make run``), Django answers an unknown URL with its technical 404 page, which lists
every URL pattern of the site, and an error outside any view with its technical 500 page. Programs (the API,
the OAuth endpoints and their metadata) get their JSON error in every mode."""

import pytest
from django.test import Client

from config.middleware import BodySizeLimitMiddleware

pytestmark = pytest.mark.django_db

UNKNOWN_PROGRAM_PATHS = ["/api/v1/nope", "/api/v1/me/", "/api/v1/connectors/", "/api/v1/connectors/conn_x/",
                         "/api/", "/api/v2/me", "/oauth/nope/", "/.well-known/nope"]
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

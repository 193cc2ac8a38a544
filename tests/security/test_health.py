"""Health endpoints: ``GET /healthz`` (the process is up) and ``GET /readyz`` (the database and the cache
answer, else 503). Unauthenticated, saying nothing but a status, never rate limited, no session or CSRF
token, reachable over plain HTTP behind a TLS-ending balancer (no redirect to HTTPS)."""

import logging

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core import health

pytestmark = pytest.mark.django_db

PROBES = ("/healthz", "/readyz")


@pytest.mark.parametrize("path", PROBES)
def test_a_probe_answers_its_status_and_nothing_else(path):
    response = Client().get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert not response.cookies, "no session or CSRF cookie"


@pytest.mark.parametrize("path", PROBES)
def test_a_probe_takes_no_credentials_and_ignores_bad_ones(path):
    response = Client().get(path, HTTP_AUTHORIZATION="Bearer sk_test_not_a_key", HTTP_COOKIE="sessionid=nonsense")
    assert response.status_code == 200


@pytest.mark.parametrize("path", PROBES)
def test_a_probe_is_never_rate_limited(settings, path):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "credential": "1/m", "organization": "1/m", "sign_in": "1/m"}}
    browser = Client()
    assert all(browser.get(path).status_code == 200 for _ in range(20))


@pytest.mark.parametrize("path", PROBES)
def test_a_probe_refuses_writes(path):
    response = Client().post(path)
    assert response.status_code == 405


def test_liveness_touches_no_database():
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/healthz").status_code == 200
    assert len(queries) == 0


@pytest.mark.parametrize("broken", ["_database_answers", "_cache_answers"])
def test_readiness_is_503_when_the_database_or_the_cache_does_not_answer(monkeypatch, caplog, broken):
    def fail():
        raise ConnectionError("connection refused to 10.0.0.5:6379 with password hunter2")

    monkeypatch.setattr(health, broken, fail)
    with caplog.at_level(logging.WARNING, logger="openpaas.health"):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable"}, "which dependency, and why, stays in the log"
    assert response["Retry-After"]
    assert "connection refused" not in response.content.decode()
    assert any("readiness check failed" in record.getMessage() for record in caplog.records)
    assert Client().get("/healthz").status_code == 200, "the process itself is still up"


def test_the_readiness_check_really_asks_the_database_and_the_cache():
    assert health._database_answers() is True
    assert health._cache_answers() is True


@pytest.mark.parametrize("path", PROBES)
def test_a_probe_over_plain_http_is_not_redirected_to_https(settings, path):
    """Balancers probe the servers directly, over plain HTTP; everything else is redirected in production."""
    settings.SECURE_SSL_REDIRECT = True
    assert Client().get(path).status_code == 200
    assert Client().get("/login").status_code == 301

"""The error contract and the limits every client meets.

- Every response carries ``X-Request-ID`` (``req_`` and hex, chosen by the server), and an error body's
  ``request_id`` is that same id, so a client can quote it and an operator can find the log line.
- Errors have one shape, ``{"error": {"type", "code", "message", "request_id"}}``: unknown URLs are a JSON
  404, unserved methods a 405 with ``Allow``, and an unexpected failure a generic 500 that reveals nothing
  while the log keeps the traceback under the request id.
- API responses are not cached, sniffed or framed.
- Rate limits per key and per organization answer 429 with ``Retry-After``, on the local-memory cache and
  on Redis (set REDIS_URL to include it).
- Input that reaches the log cannot forge log lines: one record is one line.
"""

import io
import logging
import math
import os
import re
import sys
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import override_settings

from accounts.api.views import MeView
from core.logs import OneLineFormatter, RequestIDLogFilter
from core.middleware import BodySizeLimitMiddleware
from connectors.views import ConnectorViewSet
from tests.conftest import api_client
from tests.support.factories import make_connector
from tests.resources import ROUTES

REQUEST_ID = re.compile(r"req_[0-9a-f]{24}")
GENERIC_500 = "An unexpected error occurred. Quote the request id when reporting it."
# A log line as config.settings.LOGGING formats it: time, level, logger, [request id], message.
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+ \[(req_[0-9a-f]{24}|-)\] ")
FORGED = "2099-01-01 00:00:00,000 CRITICAL openpaas.auth [req_000000000000000000000000] admin logged in"


def assert_error_body(response, status, type_, code):
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert {"type", "code", "message", "param", "doc_url", "request_id"} <= set(error)
    assert (error["type"], error["code"]) == (type_, code), error
    assert error["request_id"] == response["X-Request-ID"]
    assert error["doc_url"] == f"{django_settings.OPENPAAS_PUBLIC_URL}/docs/errors#{code}"  # every code has its entry
    return error


@pytest.fixture
def log_output():
    """What the configured console handler (config.settings.LOGGING) writes, for the duration of a test."""
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, OneLineFormatter))
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield buffer
    handler.setStream(previous)


@pytest.fixture
def failing_connector_list(monkeypatch):
    """GET /api/v1/connectors fails with an exception whose text must not reach the client."""

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("database password is hunter2; SELECT * FROM accounts_apikey")

    monkeypatch.setattr(ConnectorViewSet, "list", explode)


@pytest.fixture
def failing_middleware(monkeypatch):
    """Every request fails outside any view (in middleware), where Django's handler500 answers."""

    def explode(self, request):
        raise RuntimeError("middleware failed for " + request.path)

    monkeypatch.setattr(BodySizeLimitMiddleware, "__call__", explode)


# --- request ids ---------------------------------------------------------------------------------------

def each_kind_of_response(tenant, anon, monkeypatch):
    client = tenant.client("admin")
    yield 200, client.get("/api/v1/me")
    yield 401, anon.get("/api/v1/me")
    yield 404, client.get("/api/v1/no-such-thing")
    yield 404, client.get("/api/v1/connectors/conn_doesnotexist")
    yield 405, client.put("/api/v1/me")
    monkeypatch.setattr(MeView, "get", lambda self, request: 1 / 0)
    yield 500, client.get("/api/v1/me")


def test_every_response_carries_a_server_chosen_request_id_that_the_error_body_repeats(tenant, anon, monkeypatch):
    seen = set()
    for status, response in each_kind_of_response(tenant, anon, monkeypatch):
        assert response.status_code == status, response.content
        request_id = response["X-Request-ID"]
        assert REQUEST_ID.fullmatch(request_id), request_id
        if status >= 400:
            assert response.json()["error"]["request_id"] == request_id
        seen.add(request_id)
    assert len(seen) == 6, "each request gets its own id"


def test_a_request_id_sent_by_the_client_is_not_echoed(tenant):
    response = tenant.client("admin").get("/api/v1/no-such-thing", HTTP_X_REQUEST_ID="evil\r\nSet-Cookie: x=1")
    assert REQUEST_ID.fullmatch(response["X-Request-ID"])
    assert response.json()["error"]["request_id"] == response["X-Request-ID"]


def test_a_request_id_is_given_to_answers_from_before_any_view(tenant):
    """A body over the limit is refused by middleware; it still names its request."""
    response = tenant.client("admin").generic("POST", "/api/v1/datasets", b"x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1),
                                              content_type="application/json")
    assert_error_body(response, 413, "invalid_request_error", "request_too_large")
    assert REQUEST_ID.fullmatch(response["X-Request-ID"])


# --- 404 and 405 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/connectors/", "/api/v1/me/", "/api/", "/api/v2/me",
                                  "/api/v1/connectors/conn_x/unknown"])
@pytest.mark.parametrize("authenticated", [True, False], ids=["with a key", "without a key"])
def test_an_unknown_url_under_the_api_is_a_json_404(tenant, anon, path, authenticated):
    client = tenant.client("admin") if authenticated else anon
    response = client.get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("resource_missing", None)
    assert error["message"] == "No such resource. The API reference at doc_url lists every route."
    assert error["doc_url"] == f"{django_settings.OPENPAAS_PUBLIC_URL}/api/v1/docs"


def test_another_tenant_s_object_is_the_same_404_as_a_missing_one(tenant, other_tenant):
    theirs = make_connector(other_tenant)
    client = tenant.client("admin")
    missing = client.get("/api/v1/connectors/conn_doesnotexist").json()["error"]
    other = client.get(f"/api/v1/connectors/{theirs.pk}").json()["error"]
    assert missing["message"] == "No such connector: 'conn_doesnotexist'."
    other["message"] = other["message"].replace(theirs.pk, "conn_doesnotexist")  # each names the id it was asked
    assert {k: v for k, v in missing.items() if k != "request_id"} == {k: v for k, v in other.items() if k != "request_id"}


@pytest.mark.parametrize("livemode", [False, True], ids=["asked in test mode", "asked in live mode"])
def test_a_404_says_when_the_object_is_the_organizations_in_the_other_mode(tenant, other_tenant, livemode):
    """As Stripe's: the id exists in the other mode of the same organization (never another's)."""
    mine = make_connector(tenant, livemode=not livemode)
    theirs = make_connector(other_tenant, livemode=not livemode)
    client = tenant.client("admin", livemode=livemode)
    asked, other = ("live", "test") if livemode else ("test", "live")
    error = assert_error_body(client.get(f"/api/v1/connectors/{mine.pk}"), 404, "invalid_request_error",
                              "resource_missing")
    assert error["message"] == (f"No such connector: '{mine.pk}'; a similar object exists in {other} mode, but this "
                                f"request was made with a {asked}-mode credential.")
    assert client.get(f"/api/v1/connectors/{theirs.pk}").json()["error"]["message"] == f"No such connector: '{theirs.pk}'."


@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_a_method_a_route_does_not_serve_is_a_405_with_allow(tenant, route_name):
    route = ROUTES[route_name]
    url = route.url("x_unknown" if route.takes_id else None)
    unserved = next(m for m in ("PUT", "PATCH", "POST", "DELETE") if m not in route.methods)
    response = tenant.client("admin").generic(unserved, url)
    error = assert_error_body(response, 405, "invalid_request_error", "method_not_allowed")
    assert unserved in error["message"]
    allowed = {m.strip() for m in response["Allow"].split(",")}
    assert allowed == set(route.methods), response["Allow"]


# --- unexpected errors ---------------------------------------------------------------------------------

def test_an_unexpected_error_is_a_generic_500_that_reveals_nothing(tenant, failing_connector_list):
    client = tenant.client("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/connectors")
    error = assert_error_body(response, 500, "api_error", "internal_error")
    assert error["message"] == GENERIC_500
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"} and error["param"] is None
    body = response.content.decode()
    for leak in ("hunter2", "SELECT", "RuntimeError", "Traceback", "File \"", "connectors/views.py", "django."):
        assert leak not in body


def test_an_unexpected_error_is_logged_with_its_traceback_and_request_id(tenant, failing_connector_list, caplog):
    # The configured handler adds the request id with this filter; caplog's handler gets the same one.
    caplog.handler.addFilter(RequestIDLogFilter())
    client = tenant.client("admin")
    client.raise_request_exception = False
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/connectors")
    records = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(records) == 1, [r.getMessage() for r in records]
    record = records[0]
    assert record.name == "openpaas.errors"
    assert record.request_id == response["X-Request-ID"]
    assert "GET /api/v1/connectors" in record.getMessage()
    assert record.exc_info and isinstance(record.exc_info[1], RuntimeError)


def test_every_log_line_of_an_unexpected_error_names_the_request(tenant, failing_connector_list, log_output):
    client = tenant.client("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/connectors")
    lines = log_output.getvalue().splitlines()
    assert lines, "the error was not logged"
    for line in lines:
        assert f"[{response['X-Request-ID']}]" in line, line
    assert "RuntimeError: database password is hunter2" in log_output.getvalue()


def test_an_error_outside_any_view_is_the_same_json_500(tenant, failing_middleware, log_output):
    client = tenant.client("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/me")
    error = assert_error_body(response, 500, "api_error", "internal_error")
    assert error["message"] == GENERIC_500
    assert "middleware failed" not in response.content.decode()
    assert f"[{response['X-Request-ID']}] Internal Server Error: /api/v1/me" in log_output.getvalue()


def test_a_failed_write_leaves_nothing_behind(tenant, monkeypatch):
    """The audited create runs in one transaction: an error after the insert undoes it."""
    from audit.models import AuditEvent
    from connectors.models import Connector

    def record_then_fail(self, verb, instance, metadata=None):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(ConnectorViewSet, "record", record_then_fail)
    client = tenant.client("admin")
    client.raise_request_exception = False
    audit_events = AuditEvent.unscoped.count()
    response = client.post("/api/v1/connectors", {"name": "CRM", "type": "csv", "config": {}}, format="json")
    assert_error_body(response, 500, "api_error", "internal_error")
    assert not Connector.unscoped.exists()
    assert AuditEvent.unscoped.count() == audit_events


# --- headers on API responses --------------------------------------------------------------------------

def authenticated_responses(tenant, monkeypatch):
    client = tenant.client("admin")
    yield client.get("/api/v1/me")
    yield client.post("/api/v1/datasets", {"name": "Leads"}, format="json")
    yield client.post("/api/v1/datasets", {"name": ["x"]}, format="json")
    yield tenant.client("viewer").post("/api/v1/datasets", {"name": "x"}, format="json")
    yield client.get("/api/v1/datasets/ds_doesnotexist")
    yield client.get("/api/v1/no-such-thing")
    yield client.put("/api/v1/me")
    yield client.generic("POST", "/api/v1/datasets", "{}", content_type="text/plain")
    yield client.generic("POST", "/api/v1/datasets", b"x" * (django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), content_type="application/json")
    yield client.generic("POST", "/api/v1/datasets", b"{}", content_type="application/json", CONTENT_LENGTH="abc")
    yield client.get("/api/v1/me", HTTP_HOST="not-ours.example")
    monkeypatch.setattr(MeView, "get", lambda self, request: 1 / 0)
    yield client.get("/api/v1/me")


def test_api_responses_are_not_cached_sniffed_or_framed(tenant, monkeypatch):
    statuses = []
    for response in authenticated_responses(tenant, monkeypatch):
        statuses.append(response.status_code)
        assert response["Cache-Control"] == "no-store", response.status_code
        assert response["X-Content-Type-Options"] == "nosniff", response.status_code
        assert response["X-Frame-Options"] == "DENY", response.status_code
    assert statuses == [200, 201, 400, 403, 404, 404, 405, 415, 413, 400, 400, 500]


# --- rate limits ---------------------------------------------------------------------------------------

CACHE_BACKENDS = [pytest.param({"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                "LOCATION": "rate-limit-tests"}, id="locmem")]
if os.environ.get("REDIS_URL"):
    CACHE_BACKENDS.append(pytest.param({"BACKEND": "django_redis.cache.RedisCache", "LOCATION": os.environ["REDIS_URL"],
                                        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2}}, id="redis"))


@pytest.fixture(params=CACHE_BACKENDS)
def rate_limits(request, settings):
    """Counters in the given cache, under a prefix of their own; returns a function that sets the rates."""

    def set_rates(credential, organization):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"credential": credential, "organization": organization}}

    with override_settings(CACHES={"default": {**request.param, "KEY_PREFIX": f"ratelimit-test-{uuid.uuid4().hex}"}}):
        try:
            yield set_rates
        finally:
            # Only this test's keys: never flush a Redis database other processes may share.
            if hasattr(cache, "delete_pattern"):
                cache.delete_pattern("*")
            else:
                cache.clear()


def assert_rate_limited(response, started):
    """A 429 whose Retry-After is a whole number of seconds, long enough that waiting it out succeeds."""
    error = assert_error_body(response, 429, "rate_limit_error", "rate_limited")
    retry_after = response["Retry-After"]
    assert retry_after.isdigit() and int(retry_after) >= 1, retry_after
    # The window (60 s) opened at the first request, after `started`: the true wait is at least this.
    assert int(retry_after) >= math.ceil(60 - (time.time() - started)), retry_after
    assert retry_after in error["message"]
    return int(retry_after)


def rate_limit_headers(response):
    return {name: response.get(name) for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")}


@pytest.mark.parametrize("credential, organization, tightest", [
    ("5/m", "1000/m", 5),  # the key's own budget runs out first
    ("1000/m", "4/m", 4),  # the organization's (in this mode) does
])
def test_every_answer_to_an_authenticated_request_says_what_is_left_of_its_budget(rate_limits, tenant, credential,
                                                                                 organization, tightest):
    rate_limits(credential, organization)
    client = tenant.client("admin")
    started = int(time.time())
    seen = []
    for path in ["/api/v1/me", "/api/v1/connectors/con_missing", "/api/v1/me?unknown=1"]:  # 200, 404, 400
        headers = rate_limit_headers(client.get(path))
        seen.append(headers["X-RateLimit-Remaining"])
        assert headers["X-RateLimit-Limit"] == str(tightest)
        assert started + 55 <= int(headers["X-RateLimit-Reset"]) <= int(time.time()) + 60  # epoch seconds
    assert seen == [str(tightest - 1), str(tightest - 2), str(tightest - 3)]
    while client.get("/api/v1/me").status_code != 429:
        pass
    refused = client.get("/api/v1/me")
    assert refused.status_code == 429 and refused["X-RateLimit-Remaining"] == "0" and refused["Retry-After"]


def test_no_budget_is_claimed_for_a_request_that_was_not_authenticated(rate_limits, tenant):
    rate_limits("5/m", "1000/m")
    for response in [api_client().get("/api/v1/me"), api_client("sk_test_" + "x" * 40).get("/api/v1/me")]:
        assert response.status_code == 401
        assert rate_limit_headers(response) == dict.fromkeys(rate_limit_headers(response))
        assert response["Request-Id"] == response["X-Request-ID"]


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(rate_limits, tenant):
    rate_limits("3/m", "1000/m")
    client = tenant.client("admin")
    started = time.time()
    assert [client.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
    response = client.get("/api/v1/me")
    assert_rate_limited(response, started)
    assert response["Cache-Control"] == "no-store"
    assert client.post("/api/v1/datasets", {"name": "x"}, format="json").status_code == 429
    # The limit is the key's: another key of the same member is not affected.
    assert tenant.client("admin").get("/api/v1/me").status_code == 200


def test_the_organization_limit_is_shared_by_its_keys_and_by_no_one_else(rate_limits, tenant, other_tenant):
    rate_limits("1000/m", "3/m")
    first, second = tenant.client("admin"), tenant.client("developer")
    started = time.time()
    assert [first.get("/api/v1/me").status_code, first.get("/api/v1/me").status_code,
            second.get("/api/v1/me").status_code] == [200, 200, 200]
    assert_rate_limited(second.get("/api/v1/me"), started)
    assert_rate_limited(first.get("/api/v1/me"), started)
    assert_rate_limited(tenant.client("viewer").get("/api/v1/me"), started)
    assert other_tenant.client("admin").get("/api/v1/me").status_code == 200


def test_a_key_over_its_own_limit_does_not_use_up_its_organization_s(rate_limits, tenant):
    """One runaway key is stopped by its own limit; its refused requests do not lock out the others."""
    rate_limits("2/m", "4/m")
    runaway, other = tenant.client("admin"), tenant.client("developer")
    statuses = [runaway.get("/api/v1/me").status_code for _ in range(20)]
    assert statuses == [200, 200] + [429] * 18
    assert [other.get("/api/v1/me").status_code for _ in range(2)] == [200, 200]


def test_rate_limited_requests_are_never_server_errors(rate_limits, tenant):
    rate_limits("5/m", "8/m")
    clients = [tenant.client("admin") for _ in range(3)]
    statuses = [client.get(url).status_code for _ in range(6) for client in clients
                for url in ("/api/v1/me", "/api/v1/connectors", "/api/v1/nope-but-authenticated")]
    assert all(status < 500 for status in statuses), statuses
    assert statuses.count(429) > 0


# --- logs ----------------------------------------------------------------------------------------------

def assert_one_line_per_record(output):
    lines = output.splitlines()
    assert lines, "nothing was logged"
    for line in lines:
        assert LOG_LINE.match(line), f"a line that is not a log record: {line[:200]!r}"
    assert not any(line.startswith("2099") for line in lines), "a forged log line"


def test_a_header_with_crlf_cannot_forge_a_log_line(tenant, monkeypatch, log_output):
    def fail_with_user_agent(self, request):
        raise ValueError("unsupported client " + request.META["HTTP_USER_AGENT"])

    monkeypatch.setattr(MeView, "get", fail_with_user_agent)
    client = tenant.client("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/me", HTTP_USER_AGENT="curl/8\r\n" + FORGED)
    assert response.status_code == 500
    output = log_output.getvalue()
    assert_one_line_per_record(output)
    assert "curl/8\\r\\n" + FORGED in output  # the input is there, escaped, inside the real record


def test_a_path_with_crlf_cannot_forge_a_log_line(tenant, failing_middleware, log_output):
    client = tenant.client("admin")
    client.raise_request_exception = False
    response = client.get("/api/v1/x%0D%0A" + FORGED.replace(" ", "%20"))
    assert response.status_code == 500
    output = log_output.getvalue()
    assert_one_line_per_record(output)
    assert "/api/v1/x\\r\\n" + FORGED in output


def test_the_configured_formatter_keeps_one_record_on_one_line():
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, OneLineFormatter))
    record = logging.LogRecord("openpaas.test", logging.WARNING, __file__, 1, "value %s", ("a\r\nb\nc\rd",), None)
    for record_filter in handler.filters:
        record_filter.filter(record)
    try:
        raise KeyError("line one\nline two")
    except KeyError:
        record.exc_info = sys.exc_info()
    line = handler.format(record)
    assert "\n" not in line and "\r" not in line
    assert "value a\\r\\nb\\nc\\rd" in line
    assert "[-]" in line and "Traceback" in line


def test_people_get_a_page_and_programs_get_json_for_unknown_urls(anon):
    page = anon.get("/no-such-page")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")
    assert page["X-Request-ID"] in page.content.decode()
    assert anon.get("/oauth/no-such-endpoint")["Content-Type"] == "application/json"


def test_a_429_for_too_many_denials_says_that_budget_is_spent(rate_limits, tenant, settings):
    """A key hammering a route it lacks the scope for is refused by its refusal budget: the X-RateLimit
    headers of that 429 tell of that budget, not of the ordinary one it has hardly touched."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        "credential": "1000/m", "organization": "1000/m", "refused_credential": "3/m"}}
    viewer = tenant.client("viewer")
    statuses = [viewer.post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json") for _ in range(4)]
    assert [response.status_code for response in statuses] == [403, 403, 403, 429]
    assert [response["X-RateLimit-Remaining"] for response in statuses] == ["2", "1", "0", "0"]
    assert {response["X-RateLimit-Limit"] for response in statuses} == {"3"}

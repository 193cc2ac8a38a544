"""Sign-in attempts per client address, whatever the account and whatever the door: /login and its code
step, the JWT token and refresh endpoints and the OAuth token, revocation and introspection endpoints
(all of which check client secrets) share ONE budget per address
(OPENPAAS_RATE_SIGN_IN), so that an attacker spraying passwords or client secrets gains nothing by
switching doors. A successful attempt is given back: only failures spend it. Refused attempts cost no
database row. Without the shared cache these doors fail closed (503 with Retry-After), each in its own
error shape, and say so in the log; API reads go on (fail open)."""

import json
import logging
import socket

import pytest
from axes.models import AccessAttempt
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.accounts.browser_helpers import wrong_code
from tests.support.oauth import PASSWORD, basic_auth, make_application, person, totp_code, totp_device

pytestmark = pytest.mark.django_db

WRONG = "not the password at all"


@pytest.fixture
def sign_in_rate(settings):
    def set_rate(rate):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "sign_in": rate}}
    return set_rate


class Doors:
    """One attempt at each door from one address (REMOTE_ADDR), the way a browser and programs make them."""

    def __init__(self, tenant, address, **extra):
        self.tenant, self.address, self.extra = tenant, address, extra
        self.application, self.secret = make_application(tenant, grant_types=("client-credentials",), redirect_uris=())

    def login(self, email, password=WRONG):
        return Client(REMOTE_ADDR=self.address, **self.extra).post("/login", {"email": email, "password": password})

    def jwt(self, email, password=WRONG, **body):
        return APIClient(REMOTE_ADDR=self.address, **self.extra).post(
            "/api/v1/auth/token", {"email": email, "password": password, "organization": self.tenant.org.id, **body},
            format="json")

    def jwt_refresh(self, token="not.a.token"):
        return APIClient(REMOTE_ADDR=self.address, **self.extra).post("/api/v1/auth/token/refresh",
                                                                      {"refresh": token}, format="json")

    def oauth(self, secret="not the client secret"):
        return Client(REMOTE_ADDR=self.address, **self.extra).post(
            "/oauth/token/", {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(self.application.client_id, secret))

    def oauth_revoke(self, secret="not the client secret"):
        return Client(REMOTE_ADDR=self.address, **self.extra).post(
            "/oauth/revoke_token/", {"token": "oat_unknown"}, HTTP_AUTHORIZATION=basic_auth(self.application.client_id, secret))

    def oauth_introspect(self, secret="not the client secret"):
        return Client(REMOTE_ADDR=self.address, **self.extra).post(
            "/oauth/introspect/", {"token": "oat_unknown"}, HTTP_AUTHORIZATION=basic_auth(self.application.client_id, secret))


OAUTH_DOORS = ("oauth", "oauth_revoke", "oauth_introspect")


def assert_rate_limited(response, door):
    """429 with Retry-After, in the door's own shape."""
    assert response.status_code == 429, (door, response.status_code, response.content[:300])
    assert 1 <= int(response["Retry-After"]) <= 60, door
    if door == "login":
        assert "Too many sign-in attempts from your network. Try again in" in response.content.decode()
    elif door in OAUTH_DOORS:
        assert response.json()["error"] == "slow_down" and response["Cache-Control"] == "no-store"
    else:
        assert response.json()["error"]["code"] == "rate_limited"


def test_one_address_has_one_budget_for_every_door_and_account(tenant, sign_in_rate, django_assert_num_queries):
    sign_in_rate("8/m")
    doors = Doors(tenant, "198.51.100.7")
    emails = [person(tenant, role).user.email for role in ("viewer", "developer")] + ["nobody@example.com"]
    failures = [doors.login(emails[0]), doors.login(emails[1]), doors.jwt(emails[2]), doors.jwt(emails[0]),
                doors.oauth(), doors.jwt_refresh(), doors.oauth_revoke(), doors.oauth_introspect()]
    assert [r.status_code for r in failures] == [200, 200, 401, 401, 401, 401, 401, 401]
    rows = AccessAttempt.objects.count(), AuditEvent.unscoped.count()
    with django_assert_num_queries(0):  # refused before anything is looked up
        refused = {"login": doors.login(emails[1]), "jwt": doors.jwt(emails[1]), "oauth": doors.oauth(),
                   "jwt_refresh": doors.jwt_refresh(), "oauth_revoke": doors.oauth_revoke(),
                   "oauth_introspect": doors.oauth_introspect()}
    for door, response in refused.items():
        assert_rate_limited(response, door)
    # the right password or client secret is refused too, without being checked: refusals write nothing
    assert_rate_limited(doors.login(emails[0], PASSWORD), "login")
    for door in OAUTH_DOORS:
        assert_rate_limited(getattr(doors, door)(doors.secret), door)
    assert (AccessAttempt.objects.count(), AuditEvent.unscoped.count()) == rows
    # another address has its own budget; a changed X-Forwarded-For from an untrusted peer changes nothing
    assert Doors(tenant, "198.51.100.8").login(emails[0], PASSWORD).status_code == 302
    assert_rate_limited(Doors(tenant, "198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.1").login(emails[0]), "login")


def test_the_code_step_takes_from_the_same_budget(tenant, sign_in_rate):
    sign_in_rate("3/m")
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    browser = Client(REMOTE_ADDR="198.51.100.9")
    assert browser.post("/login", {"email": developer.user.email, "password": PASSWORD})["Location"] == "/login/verify"
    assert browser.post("/login/verify", {"code": wrong_code(device)}).status_code == 200
    Doors(tenant, "198.51.100.9").jwt("someone@example.com")
    Doors(tenant, "198.51.100.9").jwt("someone@example.com")
    held = browser.post("/login/verify", {"code": totp_code(device)})
    assert held.status_code == 429 and held["Retry-After"]
    assert "Too many sign-in attempts from your network" in held.content.decode()
    assert browser.get("/account").status_code == 302, "not signed in"


def test_successful_attempts_are_given_back(tenant, sign_in_rate):
    """People behind one address (an office) signing in do not use up each other's budget: 3 failures a
    minute, however many successful sign-ins around them."""
    sign_in_rate("3/m")
    doors = Doors(tenant, "198.51.100.10")
    viewer, developer = person(tenant, "viewer"), person(tenant, "developer")
    device = totp_device(developer.user)
    for _ in range(4):
        assert doors.login(viewer.user.email, PASSWORD).status_code == 302
        assert doors.jwt(viewer.user.email, PASSWORD).status_code == 200
        oauth = doors.oauth(doors.secret)
        assert oauth.status_code == 200, oauth.content
        refreshed = doors.jwt_refresh(doors.jwt(viewer.user.email, PASSWORD).json()["refresh"])
        assert refreshed.status_code == 200
        assert doors.oauth_revoke(doors.secret).status_code == 200
        assert doors.oauth_introspect(doors.secret).json() == {"active": False}
    browser = Client(REMOTE_ADDR=doors.address)
    browser.post("/login", {"email": developer.user.email, "password": PASSWORD})
    assert browser.post("/login/verify", {"code": totp_code(device)})["Location"] == "/account"
    assert [doors.login(viewer.user.email).status_code for _ in range(3)] == [200, 200, 200]
    assert_rate_limited(doors.login(viewer.user.email, PASSWORD), "login")


def test_addresses_are_those_a_trusted_proxy_vouches_for_and_ipv6_counts_per_64(tenant, sign_in_rate, settings):
    sign_in_rate("2/m")
    settings.OPENPAAS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    email = person(tenant, "viewer").user.email

    def via_proxy(client_address):
        return Doors(tenant, "10.0.0.2", HTTP_X_FORWARDED_FOR=client_address).login(email)

    assert [via_proxy("198.51.100.20").status_code for _ in range(2)] == [200, 200]
    assert_rate_limited(via_proxy("198.51.100.20"), "login")
    assert via_proxy("198.51.100.21").status_code == 200, "the proxy's other clients are not held up"
    # one IPv6 subscriber (a /64) is one address, however many addresses it uses in it
    assert via_proxy("2001:db8:1:2::1").status_code == 200
    assert via_proxy("2001:db8:1:2:ffff::9").status_code == 200
    assert_rate_limited(via_proxy("2001:db8:1:2:abcd::1"), "login")
    assert via_proxy("2001:db8:1:3::1").status_code == 200


# Without the cache


@pytest.fixture
def cache_down(settings):
    """Point the shared cache at a Redis port where nothing listens (bound, never listening: connections
    are refused at once). Returns a function that does it, so a test can first get half-way."""
    placeholder = socket.socket()
    placeholder.bind(("127.0.0.1", 0))
    location = f"redis://127.0.0.1:{placeholder.getsockname()[1]}/0"
    original = settings.CACHES, settings.REDIS_URL

    def down():
        settings.REDIS_URL = location
        settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location,
                                       "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}}}

    yield down
    settings.CACHES, settings.REDIS_URL = original  # before the suite's own teardown clears the cache
    placeholder.close()


def test_without_the_cache_every_sign_in_door_fails_closed_with_503(tenant, cache_down, caplog):
    developer = person(tenant, "developer")
    device = totp_device(developer.user)
    doors = Doors(tenant, "198.51.100.30")
    half_way = Client(REMOTE_ADDR=doors.address)
    assert half_way.post("/login", {"email": developer.user.email, "password": PASSWORD})["Location"] == "/login/verify"
    cache_down()

    answers = {
        "login": doors.login(developer.user.email, PASSWORD),
        "code step": half_way.post("/login/verify", {"code": totp_code(device)}),
        "jwt": doors.jwt(developer.user.email, PASSWORD),
        "jwt refresh": doors.jwt_refresh(),
        **{door: getattr(doors, door)(doors.secret) for door in OAUTH_DOORS},
    }
    for door, response in answers.items():
        assert response.status_code == 503 and response["Retry-After"] == "30", (door, response.content[:300])
    for door in ("login", "code step"):
        assert "Signing in is unavailable for a moment. Try again in 30 seconds." in answers[door].content.decode()
    for door in ("jwt", "jwt refresh"):
        error = answers[door].json()["error"]
        assert (error["type"], error["code"]) == ("api_error", "service_unavailable")
        assert error["request_id"] == answers[door]["X-Request-ID"]
    for door in OAUTH_DOORS:
        assert json.loads(answers[door].content)["error"] == "temporarily_unavailable", door
        assert answers[door]["Cache-Control"] == "no-store", door
    assert half_way.get("/account").status_code == 302 and not AuditEvent.unscoped.filter(action="auth.login").exists()
    logged = [r for r in caplog.records if r.name == "openpaas.sign_in" and r.levelno >= logging.ERROR]
    assert len(logged) == len(answers) and all("sign-in refused" in r.getMessage() for r in logged)


def test_without_the_cache_api_reads_go_on_and_it_is_logged(tenant, cache_down, caplog):
    client = tenant.client("viewer")
    cache_down()
    caplog.set_level(logging.ERROR, logger="openpaas.gate")
    response = client.get("/api/v1/connectors")
    assert response.status_code == 200, response.content
    assert any(r.name == "openpaas.gate" and "unreachable" in r.getMessage() for r in caplog.records)

"""Checklist 16.2.5, credentials stay out of logs. A person signs in (password, then an authenticator
code, after enrolling one), creates API keys, a webhook secret, an OAuth client and its tokens, JWTs and
connector credentials, uses them, and gets errors (wrong passwords, codes, keys and secrets, refused
fields quoting values, a 500), with every logger at DEBUG and SQL logged as DEBUG mode logs it. Then
nothing any logger emitted, nor what a real server (``manage.py runserver`` as ``make run`` starts it,
with ``LOG_LEVEL=DEBUG``) printed, holds any of those secrets."""

import logging
import os
import re
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
from base64 import b32decode, b32encode
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django_otp.oath import TOTP
from rest_framework.test import APIClient

from accounts.auth import keys
from accounts.models import APIKey, AuthenticatorDevice
from tests.support.oauth import (
    REDIRECT_URI,
    basic_auth,
    form_fields,
    pkce_pair,
    sign_in,
)
from tests.conftest import api_client

ROOT = Path(__file__).resolve().parents[2]


class Secrets:
    """Every secret the scenario handles, to look for afterwards."""

    def __init__(self):
        self.values = {}

    def add(self, what, value):
        assert value, what
        self.values.setdefault(str(value), what)
        return value

    def found_in(self, text):
        found = []
        for value, what in self.values.items():
            # Short numeric codes only as a whole number (not inside an id or a timestamp).
            pattern = rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])" if value.isdigit() else re.escape(value)
            for match in re.finditer(pattern, text):
                line = text[text.rfind("\n", 0, match.start()) + 1: text.find("\n", match.end())]
                found.append(f"{what}: {line[:300]}")
                break
        return found


class EveryLogRecord(logging.Handler):
    """Every record of every logger, as the application's console handler writes it (its filters and
    formatter, as configured in settings.LOGGING): what would reach the log."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.console = next(h for h in logging.root.handlers if h.get_name() == "console")
        self.lines = []

    def emit(self, record):
        if self.console.filter(record):
            self.lines.append(self.console.format(record))


@pytest.fixture
def every_log(db):
    """Every logger at DEBUG, each record captured, and SQL logged with its parameters as under DEBUG."""
    handler = EveryLogRecord()
    manager = logging.root.manager
    loggers = [logging.root] + [lg for lg in manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if lg is logging.root or not lg.propagate:
            lg.addHandler(handler)
    database = connections["default"]
    database.force_debug_cursor = True
    yield handler
    database.force_debug_cursor = False
    for lg, level, disabled in saved:
        lg.setLevel(level)
        lg.disabled = disabled
        lg.removeHandler(handler)


def code_for(key_b32, offset=0):
    return f"{TOTP(b32decode(key_b32), 30, 0, 6, offset).token():06d}"


def wrong_code_for(key_b32):
    good = {code_for(key_b32, offset) for offset in range(-3, 4)}
    return next(f"{n:06d}" for n in range(123457, 999999, 7919) if f"{n:06d}" not in good)


def key_id_of(secret):
    return APIKey.unscoped.get(prefix=keys.parse(secret).prefix).pk


def unthrottle(user):
    """A wrong code makes the device wait a second before the next (django-otp); the scenario goes on at once."""
    AuthenticatorDevice.objects.filter(user=user).update(throttling_failure_count=0,
                                                        throttling_failure_timestamp=None)


def browser_session(browser):
    return browser.cookies[next(name for name in browser.cookies if "sessionid" in name)].value


def scenario(tenant, seen, on_commit):
    """Everything a person and their programs do, each secret noted in ``seen``. Returns the admin's email."""
    admin = tenant.member("admin")
    password = seen.add("password", f"cnry-pw-{secrets.token_hex(8)}")
    admin.user.set_password(password)
    admin.user.save()
    email = admin.user.email

    # Sign-in failures, then sign-in and enrolment of an authenticator (its secret, backup codes).
    browser = Client()
    browser.post("/login", {"email": email, "password": seen.add("wrong password", f"cnry-wrong-{secrets.token_hex(6)}")})
    sign_in(browser, email, password)
    page = browser.get("/account/security/enrol").content.decode()
    totp_secret = seen.add("TOTP secret", re.search(r'<code id="totp-secret">([A-Z2-7=]+)</code>', page).group(1))
    seen.add("TOTP key (hex)", b32decode(totp_secret).hex())
    browser.post("/account/security/enrol", {"code": seen.add("wrong first code", wrong_code_for(totp_secret))})
    unthrottle(admin.user)
    confirmed = browser.post("/account/security/enrol", {"code": seen.add("first code", code_for(totp_secret))})
    backup_codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", confirmed.content.decode())
    assert len(backup_codes) == 10
    for code in backup_codes:
        seen.add("backup code", code)
    seen.add("session id", browser_session(browser))

    # A second browser: a wrong code, then a backup code; sudo wrong and right; a key from the account page.
    other = Client()
    sign_in(other, email, password)
    other.post("/login/verify", {"code": wrong_code_for(totp_secret)})
    unthrottle(admin.user)
    assert other.post("/login/verify", {"code": backup_codes[0]}).status_code == 302
    seen.add("session id", browser_session(other))
    other.post("/account/sudo", {"secret": seen.add("wrong sudo", f"cnry-sudo-{secrets.token_hex(6)}"), "next": "/account"})
    other.post("/account/sudo", {"secret": password, "next": "/account"})
    other.post("/account", {"organization": tenant.org.pk})
    created = other.post("/account/security/keys", {"name": "Mine", "scopes": ["connectors:read"]})
    own_key = re.search(r"\bsk_(?:live|test)_[0-9A-Za-z]{49}\b", created.content.decode())
    assert own_key, created.content.decode()[:500]
    seen.add("own API key", own_key.group(0))

    # API keys: created, used, rolled; wrong, unknown, malformed, in the URL.
    admin_key = seen.add("admin key", tenant.key("admin", livemode=True))  # live: it also invites, below
    api = api_client(admin_key)
    key = api.post("/api/v1/api-keys", {"name": "CI", "scopes": ["connectors:read", "connectors:write"]}, format="json").json()
    seen.add("created API key", key["secret"])
    rolled = api.post(f"/api/v1/api-keys/{key['id']}/roll", {"expires_in": 60}, format="json").json()
    seen.add("rolled API key", rolled["secret"])
    api_client(key["secret"]).get("/api/v1/connectors")
    unknown = seen.add("unknown key", keys.generate(livemode=True))
    api_client(unknown).get("/api/v1/me")
    api_client(seen.add("malformed key", "sk_live_" + "Q" * 30 + "cnry")).get("/api/v1/me")
    APIClient().get("/api/v1/me", {"api_key": rolled["secret"]})
    APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Basic {seen.add('basic', 'Y25yeS1iYXNpYy1jYW5hcnk=')}")
    revoked = tenant.key("developer")
    api.post(f"/api/v1/api-keys/{key_id_of(revoked)}/revoke", format="json")
    api_client(seen.add("revoked key", revoked)).get("/api/v1/me")

    # A webhook endpoint's signing secret.
    endpoint = api.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/in", "events": ["*"]},
                        format="json").json()
    seen.add("webhook secret", endpoint["secret"])

    # Connector credentials, and refusals that would quote them.
    token = seen.add("connector token", f"cnry-conn-{secrets.token_hex(8)}")
    header = seen.add("connector header", f"cnry-hdr-{secrets.token_hex(8)}")
    api.post("/api/v1/connectors", {"name": "Billing", "type": "http", "config": {"base_url": "https://b.example.com"},
                                    "credentials": {"token": token, "headers": {"X-Api-Key": header}}}, format="json")
    api.post("/api/v1/connectors", {"name": "Billing", "type": "http", "config": {
        "base_url": "https://b.example.com", "headers": {"Authorization": f"Bearer {header}"}}}, format="json")
    api.post("/api/v1/connectors", {"name": "DB", "type": "postgresql", "config": {"host": "h", "database": "d",
             "user": "u"}, "credentials": {"password": 5, "extra": token}}, format="json")
    api.post("/api/v1/connectors", {"name": "DB", "type": "postgresql", "config": {"host": "h", "database": "d",
             "user": "u"}, "credentials": {"password": token * 100}}, format="json")

    # OAuth: an application's secret, a wrong one, client credentials, the code flow with PKCE, refresh,
    # introspection, revocation.
    app = api.post("/api/v1/oauth-applications", {
        "name": "Portal", "client_type": "confidential", "grant_types": ["authorization-code", "client-credentials"],
        "redirect_uris": [REDIRECT_URI], "allowed_scopes": ["connectors:read"]}, format="json").json()
    assert "client_secret" in app, app
    client_id, client_secret = app["client_id"], seen.add("client secret", app["client_secret"])
    token_url = "/oauth/token/"
    Client().post(token_url, {"grant_type": "client_credentials"},
                  HTTP_AUTHORIZATION=basic_auth(client_id, seen.add("wrong client secret", f"cnry-cs-{secrets.token_hex(8)}")))
    Client().post(token_url, {"grant_type": "client_credentials", "client_id": client_id,
                              "client_secret": seen.add("wrong secret in the body", f"cnry-cs-{secrets.token_hex(8)}")})
    issued = Client().post(token_url, {"grant_type": "client_credentials"},
                           HTTP_AUTHORIZATION=basic_auth(client_id, client_secret)).json()
    assert "access_token" in issued, issued
    seen.add("client credentials token", issued["access_token"])
    api_client(issued["access_token"]).get("/api/v1/connectors")
    verifier, challenge = pkce_pair()
    seen.add("PKCE verifier", verifier)
    authorize = (f"/oauth/authorize/?response_type=code&client_id={client_id}&redirect_uri={REDIRECT_URI}"
                 f"&scope=openid+connectors:read&state=s1&code_challenge={challenge}&code_challenge_method=S256")
    fields = form_fields(browser.get(authorize).content.decode())
    fields.pop("csrfmiddlewaretoken", None)
    answer = browser.post(authorize, {**fields, "allow": "Authorize"})
    code = seen.add("authorization code", parse_qs(urlsplit(answer["Location"]).query)["code"][0])
    tokens = Client().post(token_url, {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                                       "redirect_uri": REDIRECT_URI},
                           HTTP_AUTHORIZATION=basic_auth(client_id, client_secret)).json()
    for name in ("access_token", "refresh_token", "id_token"):
        seen.add(f"OAuth {name}", tokens[name])
    refreshed = Client().post(token_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                              HTTP_AUTHORIZATION=basic_auth(client_id, client_secret)).json()
    assert "access_token" in refreshed, refreshed
    seen.add("refreshed OAuth token", refreshed["access_token"])
    seen.add("refreshed OAuth refresh token", refreshed["refresh_token"])
    Client().post(token_url, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                  HTTP_AUTHORIZATION=basic_auth(client_id, client_secret))  # reused: the grant ends
    Client().post("/oauth/introspect/", {"token": refreshed["access_token"]},
                  HTTP_AUTHORIZATION=basic_auth(client_id, client_secret))
    Client().post("/oauth/revoke_token/", {"token": refreshed["refresh_token"]},
                  HTTP_AUTHORIZATION=basic_auth(client_id, client_secret))
    api_client(refreshed["access_token"]).get("/api/v1/me")
    Client().post(token_url, {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                              "redirect_uri": REDIRECT_URI}, HTTP_AUTHORIZATION=basic_auth(client_id, client_secret))

    # JWT: wrong password, wrong code, then tokens; refresh, reuse, revoke; a forged one.
    jwt_url = "/api/v1/auth/token"
    body = {"email": email, "organization": tenant.org.pk}
    APIClient().post(jwt_url, {**body, "password": seen.add("wrong JWT password", f"cnry-jwtpw-{secrets.token_hex(6)}")}, format="json")
    APIClient().post(jwt_url, {**body, "password": password, "otp": wrong_code_for(totp_secret)}, format="json")
    unthrottle(admin.user)
    pair = APIClient().post(jwt_url, {**body, "password": password, "otp": code_for(totp_secret, 1)}, format="json").json()
    seen.add("JWT access", pair["access"])
    seen.add("JWT refresh", pair["refresh"])
    api_client(pair["access"]).get("/api/v1/me")
    again = APIClient().post(f"{jwt_url}/refresh", {"refresh": pair["refresh"]}, format="json").json()
    seen.add("JWT refresh (rotated)", again["refresh"])
    APIClient().post(f"{jwt_url}/refresh", {"refresh": pair["refresh"]}, format="json")  # reuse ends the session
    APIClient().post(f"{jwt_url}/revoke", {"refresh": again["refresh"]}, format="json")
    head, claims, _ = pair["access"].split(".")
    api_client(seen.add("forged JWT", f"{head}.{claims}.Zm9yZ2VkLXNpZ25hdHVyZS1jbnJ5")).get("/api/v1/me")

    # An invitation: its link's token, used once and then again.
    with on_commit(execute=True):
        api.post("/api/v1/members", {"email": "new.person@example.com", "role": "developer"}, format="json")
    link = re.search(r"/invitations/([A-Za-z0-9_-]{20,})", mail.outbox[-1].body)
    seen.add("invitation token", link.group(1))
    Client().get(link.group(0))
    return email


def test_no_secret_reaches_any_log(tenant, every_log, monkeypatch, django_capture_on_commit_callbacks):
    seen = Secrets()
    scenario(tenant, seen, django_capture_on_commit_callbacks)

    # A 500 while a request carries a key and a credential in its body.
    from connectors.views import ConnectorViewSet

    def fail(self, serializer):
        raise RuntimeError("the storage is on fire")

    monkeypatch.setattr(ConnectorViewSet, "perform_create", fail)
    failing = api_client(seen.add("key at the 500", tenant.key("admin")))
    response = failing.post("/api/v1/connectors", {"name": "X", "type": "postgresql", "config": {
        "host": "h", "database": "d", "user": "u"}, "credentials": {"password": seen.add("body at the 500", "cnry-500-pw")}},
        format="json")
    assert response.status_code == 500

    assert len(every_log.lines) > 50  # the loggers did speak (SQL included)
    logged = "\n".join(every_log.lines)
    assert not seen.found_in(logged), "\n".join(seen.found_in(logged))


# -- a real server ----------------------------------------------------------------------------------------


def database_url_for_a_server(tmp_path):
    """The database a server subprocess can share with this test: PostgreSQL's test database as it is
    (this test's writes are committed), or a file copy of SQLite's in-memory one."""
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
        return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    path = tmp_path / "server.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(path) as copy:
        connection.connection.backup(copy)
    return f"sqlite:///{path}"


class Server:
    """``manage.py runserver`` on port 0, as ``make run`` starts it (DEBUG on), with LOG_LEVEL=DEBUG; all it
    prints goes to one file."""

    def __init__(self, tmp_path, database_url):
        self.output = tmp_path / "server.log"
        env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1", "LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "manage.py", "runserver", "127.0.0.1:0", "--noreload"],
                                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.url = self._wait_for_address()

    def _wait_for_address(self):
        for _ in range(1200):  # polled, not timed: up to two minutes on a busy machine
            text = self.text()
            found = re.search(r"Starting development server at (http://127\.0\.0\.1:\d+)/", text)
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"the server stopped:\n{text[-3000:]}")
            time.sleep(0.1)
        raise AssertionError(f"the server did not start:\n{self.text()[-3000:]}")

    def text(self):
        return self.output.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.text()


def form_post(session, url, data, page_url=None):
    """A browser's form submission: the CSRF token from the page's form."""
    page = session.get(page_url or url)
    token = form_fields(page.text).get("csrfmiddlewaretoken", "")
    return session.post(url, data={**data, "csrfmiddlewaretoken": token}, allow_redirects=False,
                        headers={"Referer": page.url})


@pytest.mark.django_db(transaction=True)
def test_no_secret_reaches_a_real_servers_output(tenant, tmp_path, django_capture_on_commit_callbacks):
    seen = Secrets()
    admin = tenant.member("admin")
    password = seen.add("password", f"cnry-pw-{secrets.token_hex(8)}")
    admin.user.set_password(password)
    admin.user.save()
    device = AuthenticatorDevice.objects.create(user=admin.user, name="phone", confirmed=True)
    totp_secret = seen.add("TOTP secret", b32encode(device.bin_key).decode())
    admin_key = seen.add("admin key", tenant.key("admin", livemode=True))  # live: it also invites, below
    with django_capture_on_commit_callbacks(execute=True):
        api_client(admin_key).post("/api/v1/members", {"email": "joiner@example.com", "role": "viewer"}, format="json")
    invitation = re.search(r"/invitations/([A-Za-z0-9_-]{20,})", mail.outbox[-1].body).group(1)
    seen.add("invitation token", invitation)

    server = Server(tmp_path, database_url_for_a_server(tmp_path))
    try:
        base = server.url
        browser = requests.Session()
        email = admin.user.email
        form_post(browser, f"{base}/login", {"email": email, "password": seen.add("wrong password", "cnry-wrong-pw-1")})
        signed = form_post(browser, f"{base}/login", {"email": email, "password": password})
        assert signed.status_code == 302, signed.text[:500]
        form_post(browser, f"{base}/login/verify", {"code": seen.add("code", code_for(totp_secret))})
        assert browser.get(f"{base}/account/security", allow_redirects=False).status_code == 200
        seen.add("session id", browser.cookies.get("sessionid"))
        form_post(browser, f"{base}/account/sudo", {"secret": seen.add("wrong sudo", "cnry-wrong-sudo-1"), "next": "/account"},
                  f"{base}/account/sudo")
        form_post(browser, f"{base}/account/sudo", {"secret": password, "next": "/account"}, f"{base}/account/sudo")
        created = form_post(browser, f"{base}/account/security/keys", {"name": "Mine", "scopes": "connectors:read"},
                            f"{base}/account/security")
        own_key = re.search(r"\bsk_(?:live|test)_[0-9A-Za-z]{49}\b", created.text)
        assert own_key, created.text[:800]
        seen.add("own key", own_key.group(0))

        def api(method, path, secret=admin_key, **kwargs):
            return requests.request(method, f"{base}/api/v1{path}", headers={"Authorization": f"Bearer {secret}"},
                                    timeout=60, **kwargs)

        assert api("GET", "/me").status_code == 200
        api("GET", "/me", secret=seen.add("unknown key", keys.generate(livemode=True)))
        requests.get(f"{base}/api/v1/me", params={"api_key": admin_key}, timeout=60)
        requests.get(f"{base}/api/v1/me", params={"access_token": own_key.group(0)}, timeout=60)
        key = api("POST", "/api-keys", json={"name": "CI", "scopes": ["connectors:read"]}).json()
        seen.add("created key", key["secret"])
        seen.add("webhook secret", api("POST", "/webhook-endpoints", json={
            "url": "https://hooks.example.com/in", "events": ["*"]}).json()["secret"])
        token = seen.add("connector token", f"cnry-conn-{secrets.token_hex(6)}")
        api("POST", "/connectors", json={"name": "B", "type": "http", "config": {"base_url": "https://b.example.com"},
                                         "credentials": {"token": token}})
        api("POST", "/connectors", json={"name": "B", "type": "http", "config": {
            "base_url": "https://b.example.com", "headers": {"Authorization": f"Bearer {token}"}}})
        app = api("POST", "/oauth-applications", json={
            "name": "Svc", "client_type": "confidential", "grant_types": ["client-credentials"],
            "allowed_scopes": ["connectors:read"]}).json()
        client_secret = seen.add("client secret", app["client_secret"])
        requests.post(f"{base}/oauth/token/", data={"grant_type": "client_credentials"}, timeout=60,
                      auth=(app["client_id"], seen.add("wrong client secret", "cnry-wrong-cs-1")))
        issued = requests.post(f"{base}/oauth/token/", data={"grant_type": "client_credentials"}, timeout=60,
                               auth=(app["client_id"], client_secret)).json()
        seen.add("OAuth token", issued["access_token"])
        api("GET", "/connectors", secret=issued["access_token"])
        jwt_body = {"email": email, "organization": tenant.org.pk, "password": password,
                    "otp": seen.add("JWT code", code_for(totp_secret, 1))}
        pair = requests.post(f"{base}/api/v1/auth/token", json=jwt_body, timeout=60).json()
        assert "access" in pair, pair
        seen.add("JWT access", pair["access"])
        seen.add("JWT refresh", pair["refresh"])
        api("GET", "/me", secret=pair["access"])
        requests.post(f"{base}/api/v1/auth/token/refresh", json={"refresh": pair["refresh"]}, timeout=60)
        requests.post(f"{base}/api/v1/auth/token", timeout=60, json={
            **jwt_body, "password": seen.add("wrong JWT password", "cnry-wrong-jwt-1")})
        requests.get(f"{base}/invitations/{invitation}", timeout=60)
    finally:
        output = server.stop()

    assert '"GET /api/v1/me' in output  # the server did log its requests
    assert not seen.found_in(output), "\n".join(seen.found_in(output))


# -- the filter's rules, one by one -------------------------------------------------------------------------


def record(name, msg, *args, level=logging.INFO, **extra):
    item = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    item.__dict__.update(extra)
    return item


def filtered(item):
    from core.logs import CredentialLogFilter

    kept = CredentialLogFilter().filter(item)
    return kept and item.getMessage()


KEY = "sk_live_" + "A1b2" * 12 + "Z"


@pytest.mark.parametrize("message,hidden", [
    (f'"GET /api/v1/me?api_key={KEY} HTTP/1.1" 401', KEY),
    ('"GET /api/v1/me?limit=5&access_token=cnry-tok-1 HTTP/1.1" 401', "cnry-tok-1"),
    ('"GET /oauth/cb?state=s&code=cnry-code-1 HTTP/1.1" 302', "cnry-code-1"),
    ('"GET /invitations/cnryInvitationToken123 HTTP/1.1" 200', "cnryInvitationToken123"),
    ("refused Bearer cnry-bearer-token-1", "cnry-bearer-token-1"),
    ("secret whsec_Q25yeVdlYmhvb2tTZWNyZXQ= in a message", "Q25yeVdlYmhvb2tTZWNyZXQ="),
    ("token oat_cnryAccessToken0000000000 and ort_cnryRefreshToken00000000", "cnryAccessToken"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbnJ5In0.c2lnbmF0dXJl", "eyJzdWIiOiJjbnJ5In0"),
])
def test_credentials_in_messages_are_masked(message, hidden):
    assert hidden not in filtered(record("django.server", "%s", message))


def test_ordinary_messages_are_unchanged():
    message = '"GET /api/v1/datasets/ds_1/records?limit=5&order_by=-amount HTTP/1.1" 200 512'
    assert filtered(record("django.server", "%s", message)) == message


@pytest.mark.parametrize("sql,params", [
    ("SELECT 1 FROM s WHERE k = 'cnry''key' AND n = 5", ("cnry'key", 5)),
    ("SELECT 1 FROM s WHERE k = E'cnry\\\\key'", ("cnry\\key",)),
    ("INSERT INTO t VALUES (X'636e7279'), ('cnry-blob')", (b"cnry", "cnry-blob")),
    ("UPDATE t SET a = 'cnry-1' WHERE b = 'cnry-2'", [("cnry-1", "cnry-2"), ("cnry-3", "cnry-4")]),
])
def test_sql_keeps_its_shape_without_its_string_values(sql, params):
    message = filtered(record("django.db.backends", "(%.3f) %s; args=%s; alias=%s", 0.001, sql, params, "default",
                              level=logging.DEBUG, sql=sql, params=params, duration=0.001, alias="default"))
    assert "cnry" not in message and "636e7279" not in message, message
    assert message.startswith("(0.001) ") and message.endswith("; alias=default")


def test_oauthlib_debug_lines_are_dropped_and_its_warnings_kept():
    assert filtered(record("oauthlib.oauth2.rfc6749", "Issuing %r", {"access_token": "x"}, level=logging.DEBUG)) is False
    assert filtered(record("oauthlib.oauth2.rfc6749", "Client failed", level=logging.WARNING)) == "Client failed"


def test_a_malformed_record_is_left_to_the_handler():
    assert record("x", "%s %s", "only one").msg == "%s %s"
    from core.logs import CredentialLogFilter

    assert CredentialLogFilter().filter(record("x", "%s %s", "only one")) is True

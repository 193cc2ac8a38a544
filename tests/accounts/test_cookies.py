"""Cookies (ASVS 3.3.1, 3.3.4): the session and CSRF cookies are HttpOnly and SameSite=Lax; whenever DEBUG
is off they are Secure and named with the __Host- prefix, unless a test server on plain HTTP says
OPENPAAS_HTTPS=false (as this suite does, tests/settings.py)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.support.oauth import PASSWORD, person

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
COOKIE_SETTINGS = ["SESSION_COOKIE_NAME", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
                   "SESSION_COOKIE_PATH", "SESSION_COOKIE_DOMAIN", "CSRF_COOKIE_NAME", "CSRF_COOKIE_SECURE",
                   "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_SAMESITE", "CSRF_COOKIE_PATH", "CSRF_COOKIE_DOMAIN"]


def settings_with(**env):
    """The cookie settings config.settings computes under this environment (a fresh interpreter)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENPAAS_HTTPS", "OPENPAAS_BEHIND_PROXY", "DEBUG")}
    script = ("import json, config.settings as s; "
              f"print(json.dumps({{name: getattr(s, name) for name in {COOKIE_SETTINGS!r}}}))")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _sign_in(tenant, **extra):
    developer = person(tenant, "developer")
    browser = Client(**extra)
    page = browser.get("/login", **extra)
    response = browser.post("/login", {"email": developer.user.email, "password": PASSWORD}, **extra)
    assert response.status_code == 302
    return page, response


def test_on_a_plain_http_test_server_the_cookies_are_httponly_and_samesite_lax(tenant, settings):
    page, response = _sign_in(tenant)
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] and session["samesite"] == "Lax" and session["path"] == "/" and not session["domain"]
    assert not session["secure"]
    csrf = page.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["httponly"] and csrf["samesite"] == "Lax" and csrf["path"] == "/" and not csrf["domain"]


def test_with_the_production_settings_the_cookies_are_secure_and_host_prefixed(tenant, settings):
    production = settings_with(OPENPAAS_HTTPS="true")
    for name, value in production.items():
        setattr(settings, name, value)
    page, response = _sign_in(tenant, secure=True)
    session = response.cookies["__Host-sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert session["path"] == "/" and not session["domain"], "__Host- requires Path=/ and no Domain"
    csrf = page.cookies["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Lax" and csrf["path"] == "/" and not csrf["domain"]
    assert "sessionid" not in response.cookies and "csrftoken" not in page.cookies


@pytest.mark.parametrize("env", [{}, {"DEBUG": "0"}, {"OPENPAAS_HTTPS": "true"}, {"OPENPAAS_BEHIND_PROXY": "true"},
                                 {"OPENPAAS_HTTPS": "1", "DEBUG": "0"}, {"OPENPAAS_HTTPS": "true", "DEBUG": "1"}],
                         ids=["debug off", "DEBUG=0", "https", "behind a proxy", "https and debug off", "https in debug"])
def test_the_settings_module_turns_https_cookies_on_from_the_environment(env):
    values = settings_with(**env)
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid" and values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True and values["CSRF_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_COOKIE_PATH"] == values["CSRF_COOKIE_PATH"] == "/"
    assert values["SESSION_COOKIE_DOMAIN"] is None and values["CSRF_COOKIE_DOMAIN"] is None


@pytest.mark.parametrize("env", [{"DEBUG": "1"}, {"OPENPAAS_HTTPS": "false"},
                                 {"OPENPAAS_HTTPS": "false", "OPENPAAS_BEHIND_PROXY": "true"}],
                         ids=["development", "a test server on plain http", "told so behind a proxy"])
def test_in_development_or_when_told_plain_http_the_cookies_keep_plain_names_so_local_http_works(env):
    values = settings_with(**env)
    assert values["SESSION_COOKIE_NAME"] == "sessionid" and values["SESSION_COOKIE_SECURE"] is False
    assert values["CSRF_COOKIE_NAME"] == "csrftoken" and values["CSRF_COOKIE_SECURE"] is False
    assert values["SESSION_COOKIE_HTTPONLY"] is True and values["SESSION_COOKIE_SAMESITE"] == "Lax"

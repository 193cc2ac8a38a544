"""The production configuration passes Django's own deployment check with no warning, and what it means:
with DEBUG off the site is HTTPS only (plain HTTP redirected, Secure cookies with __Host- names, HSTS);
only an explicit OPENPAAS_HTTPS=false (for a test server on plain HTTP) turns that off, and the check says so."""

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path, **overrides):
    """What an operator sets in production (README, "Production configuration"), and nothing of this test
    run's own switches."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("OPENPAAS_", "DJANGO_")) and name not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "paas.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "OPENPAAS_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "OPENPAAS_JWT_SIGNING_KEY": secrets.token_urlsafe(50),
        "OPENPAAS_OIDC_RSA_PRIVATE_KEY": rsa_key,
        "OPENPAAS_STATE_DIR": str(tmp_path / "state"),  # nothing generated in anyone's home
        "OPENPAAS_BEHIND_PROXY": "true",
        "OPENPAAS_TRUSTED_PROXIES": "10.0.0.0/8",
    })
    env.update(overrides)
    return {name: value for name, value in env.items() if value is not None}


def deploy_check(env):
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def settings_under(env, *names):
    script = f"import json, config.settings as s; print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_deployment_check_passes_with_no_warning_in_production(tmp_path):
    result = deploy_check(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_check_catches_the_plain_http_switch(tmp_path):
    result = deploy_check(production_env(tmp_path, OPENPAAS_HTTPS="false"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for warning in ("security.W008", "security.W012", "security.W016"):  # redirect, session and CSRF cookies
        assert warning in output, output


def test_the_deployment_check_catches_debug(tmp_path):
    result = deploy_check(production_env(tmp_path, DEBUG="1"))
    assert result.returncode != 0 and "security.W018" in result.stdout + result.stderr


def test_with_debug_off_the_site_is_https_only_without_being_told(tmp_path):
    env = production_env(tmp_path, OPENPAAS_BEHIND_PROXY=None, OPENPAAS_TRUSTED_PROXIES=None)
    values = settings_under(env, "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                            "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME", "SECURE_HSTS_SECONDS",
                            "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_REDIRECT_EXEMPT")
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid" and values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SECURE_HSTS_SECONDS"] >= 31536000 and values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_REDIRECT_EXEMPT"] == ["^healthz$", "^readyz$"], "only the health probes"


@pytest.mark.parametrize("env", [{"DEBUG": "1"}, {"OPENPAAS_HTTPS": "false"}], ids=["development", "told plain http"])
def test_plain_http_only_in_development_or_when_told(tmp_path, env):
    values = settings_under(production_env(tmp_path, **env), "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE",
                            "SESSION_COOKIE_NAME")
    assert values == {"SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False, "SESSION_COOKIE_NAME": "sessionid"}

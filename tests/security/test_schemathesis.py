"""Schemathesis against a running server (ASVS 2.2.1): every check (`--checks all`), a bounded number of
examples per operation, deterministic generation, no failure. The server runs on the suite's database,
so `make test` runs this on SQLite and, in CI, on PostgreSQL with Redis.

The fuzzer holds a live Admin key. Operations that can end it (revoking or rolling a key, removing or
demoting a member: the stateful phase feeds them the ids that lists return, its own among them) are left
out of the main run and fuzzed in a run of their own without stateful links; what they do to the caller's
own credential is tested by hand below, its responses checked against the schema.

Settings the runs share (which failures a schema cannot rule out, how strings are generated) are in
tests/security/schemathesis.toml; custom formats (a list's cursor) in tests/security/schemathesis_hooks.py.
"""

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connections
from django.test.testcases import LiveServerThread

from accounts.models import APIKey
from tests.conftest import api_client
from tests.support.openapi import conforms

ST = Path(sys.executable).with_name("st")
ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "security" / "schemathesis.toml"
HOOKS = "tests.security.schemathesis_hooks"

# Operations that can end the fuzzer's own credential.
REVOKING = (
    "DELETE /api/v1/api-keys/{id}",
    "POST /api/v1/api-keys/{id}/roll",
    "DELETE /api/v1/members/{id}",
    "PATCH /api/v1/members/{id}",
)
MAX_EXAMPLES = 5


class _NoDelayWSGIServer(ThreadedWSGIServer):
    """Django's test server writes a response's headers and body separately; with Nagle's algorithm and
    the client's delayed ACK every request then waits about 40 ms. With TCP_NODELAY a run is ~5x faster."""

    def get_request(self):
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address


class _ServerThread(LiveServerThread):
    server_class = _NoDelayWSGIServer


@pytest.fixture
def api_server(transactional_db, settings):
    """pytest-django's live_server, on 127.0.0.1 and port 0, with TCP_NODELAY."""
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    shared = {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}
    thread = _ServerThread("127.0.0.1", StaticFilesHandler, connections_override=shared, port=0)
    thread.daemon = True
    settings.ALLOWED_HOSTS = [*django_settings.ALLOWED_HOSTS, "127.0.0.1"]
    for conn in shared.values():
        conn.inc_thread_sharing()
    thread.start()
    thread.is_ready.wait()
    try:
        if thread.error:
            raise thread.error
        yield f"http://127.0.0.1:{thread.port}"
    finally:
        thread.terminate()
        for conn in shared.values():
            conn.dec_thread_sharing()


def openapi_document(key):
    response = api_client(key).get("/api/v1/schema", {"format": "json"})
    assert response.status_code == 200
    return response


def run_schemathesis(base_url, tmp_path, key, *args):
    schema_path = tmp_path / "openapi.json"
    schema_path.write_bytes(openapi_document(key).content)
    command = [
        str(ST), "--config-file", str(CONFIG), "run", str(schema_path),
        "--url", base_url, "-H", f"Authorization: Bearer {key}",
        "--checks", "all", "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
        "--workers", "1", "--no-color", "--request-timeout", "30",
        *args,
    ]
    env = {"SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(ROOT), "PATH": str(ST.parent), "HOME": str(tmp_path)}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)  # nosec B603
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-30000:]
    assert " passed" in output and "No operations" not in output, output[-5000:]
    return output


def test_schemathesis_finds_nothing(api_server, make_tenant, tmp_path):
    key = make_tenant("Fuzzed").key("admin", livemode=True)
    excluded = [arg for name in REVOKING for arg in ("--exclude-name", name)]
    run_schemathesis(api_server, tmp_path, key, *excluded)


def test_schemathesis_finds_nothing_in_the_operations_that_can_revoke_its_own_key(api_server, make_tenant, tmp_path):
    """Generated ids only (no stateful links): its own key and member are never among them."""
    tenant = make_tenant("Fuzzed")
    key = tenant.key("admin", livemode=True)
    included = [arg for name in REVOKING for arg in ("--include-name", name)]
    run_schemathesis(api_server, tmp_path, key, *included, "--phases", "examples,coverage,fuzzing")
    assert api_client(key).get("/api/v1/me").status_code == 200


# --- the caller's own credential, by hand -------------------------------------------------------------
# transaction=True: a revocation reaches other processes' credential caches when it commits.

@pytest.fixture
def operations(tenant):
    document = openapi_document(tenant.key("admin", livemode=True)).json()
    return schemathesis.openapi.from_dict(document)


def own_key_id(client):
    return client.get("/api/v1/me").json()["credential"]["id"]


@pytest.mark.django_db(transaction=True)
def test_revoking_its_own_key_answers_as_documented_and_ends_it(tenant, operations):
    client = tenant.client("admin", livemode=True)
    key_id = own_key_id(client)
    revoked = client.delete(f"/api/v1/api-keys/{key_id}")
    assert revoked.status_code == 204
    conforms(operations, "DELETE", "/api/v1/api-keys/{id}", revoked)
    after = client.get("/api/v1/me")
    assert after.status_code == 401
    conforms(operations, "GET", "/api/v1/me", after)


@pytest.mark.django_db(transaction=True)
def test_rolling_its_own_key_at_once_answers_as_documented_and_ends_it(tenant, operations):
    client = tenant.client("admin", livemode=True)
    key_id = own_key_id(client)
    rolled = client.post(f"/api/v1/api-keys/{key_id}/roll", {"expires_in": 0}, format="json")
    assert rolled.status_code == 201
    conforms(operations, "POST", "/api/v1/api-keys/{id}/roll", rolled)
    assert client.get("/api/v1/me").status_code == 401
    assert api_client(rolled.json()["secret"]).get("/api/v1/me").status_code == 200
    assert APIKey.unscoped.get(pk=key_id).status() != "active"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method", ["PATCH", "DELETE"])
def test_changing_or_removing_its_own_member_answers_as_documented(tenant, operations, method):
    client = tenant.client("admin", livemode=True)
    member_id = tenant.member("admin").id
    url = f"/api/v1/members/{member_id}"
    response = client.patch(url, {"role": "viewer"}, format="json") if method == "PATCH" else client.delete(url)
    conforms(operations, method, "/api/v1/members/{id}", response)
    after = client.get("/api/v1/me")
    conforms(operations, "GET", "/api/v1/me", after)
    if response.status_code < 300:
        assert after.status_code in (401, 200)
        if after.status_code == 200:
            assert "org:admin" not in after.json()["scopes"], "a demotion shrinks the key at once"

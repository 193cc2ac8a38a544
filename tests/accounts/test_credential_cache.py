"""With resolved keys cached in the process (on whenever Redis is configured), a warm key costs no
query, and every change to who may do what still applies on the very next request.

These tests commit for real (transaction=True): the organization's access generation moves when a
change commits, which is the moment a cached key must stop being trusted."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth import credential_cache
from accounts.models import APIKey
from tests.conftest import api_client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("credential_cache_on")]


def warm(client, path="/api/v1/me"):
    """Two requests: the first loads the key, the second verifies it against the generation."""
    for _ in range(2):
        assert client.get(path).status_code == 200
    return client


def test_a_warm_key_costs_no_query(tenant):
    client = warm(tenant.client("viewer"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 0


def test_the_cache_holds_no_password_hash_or_secret(tenant):
    secret = tenant.key("developer")
    warm(api_client(secret))
    entry = credential_cache.store.get(APIKey.unscoped.get(prefix=secret[:16]).digest)
    assert secret not in repr(entry)
    assert not any(field in repr(entry) for field in ("password", "argon2", "pbkdf2"))


def test_revocation_applies_to_a_cached_key_on_the_next_request(tenant):
    admin = tenant.client("admin")
    created = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json").json()
    victim = warm(api_client(created["secret"]), "/api/v1/datasets")
    assert admin.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    assert victim.get("/api/v1/datasets").status_code == 401


def test_rolling_with_no_grace_applies_to_a_cached_key_on_the_next_request(tenant):
    admin = tenant.client("admin")
    created = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json").json()
    old = warm(api_client(created["secret"]), "/api/v1/datasets")
    assert admin.post(f"/api/v1/api-keys/{created['id']}/roll", {"expires_in": 0}, format="json").status_code == 201
    assert old.get("/api/v1/datasets").status_code == 401


def test_demotion_narrows_a_cached_key_on_the_next_request(tenant):
    developer = warm(tenant.client("developer"), "/api/v1/connectors")
    assert developer.post("/api/v1/connectors", {"name": "a", "type": "csv"}, format="json").status_code == 201
    member = tenant.member("developer")
    assert tenant.client("admin", livemode=True).patch(f"/api/v1/members/{member.id}", {"role": "viewer"}, format="json").status_code == 200
    response = developer.post("/api/v1/connectors", {"name": "b", "type": "csv"}, format="json")
    assert response.status_code == 403 and response.json()["error"]["required_scope"] == "connectors:write"


def test_removal_and_deactivation_end_cached_keys_on_the_next_request(tenant):
    removed = warm(tenant.client("developer"))
    deactivated = warm(tenant.client("viewer"))
    assert tenant.client("admin", livemode=True).delete(f"/api/v1/members/{tenant.member('developer').id}").status_code == 204
    assert removed.get("/api/v1/me").status_code == 401
    person = tenant.member("viewer").user
    person.is_active = False
    person.save()
    assert deactivated.get("/api/v1/me").status_code == 401


def test_a_cached_key_stops_at_its_expiry(tenant, monkeypatch):
    client = warm(api_client(tenant.key("viewer", expires_at=timezone.now() + timedelta(minutes=5))))
    later = timezone.now() + timedelta(minutes=6)
    monkeypatch.setattr("accounts.auth.authentication.timezone.now", lambda: later)
    assert client.get("/api/v1/me").status_code == 401


def test_a_change_in_another_organization_leaves_this_ones_cache_warm(tenant, other_tenant):
    client = warm(tenant.client("viewer"))
    other_tenant.client("admin", livemode=True).patch(f"/api/v1/members/{other_tenant.member('developer').id}", {"role": "viewer"}, format="json")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 0


UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens there


def test_an_unreachable_cache_neither_trusts_cached_keys_nor_fails_requests(tenant, caplog):
    admin = tenant.client("admin")
    created = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json").json()
    victim = warm(api_client(created["secret"]), "/api/v1/datasets")
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": UNREACHABLE_REDIS,
                          "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2}}}
    with override_settings(REDIS_URL=UNREACHABLE_REDIS, CACHES=caches):
        assert victim.get("/api/v1/datasets").status_code == 200
        # the revocation's generation bump is lost with the cache, but the cached key is not trusted
        assert admin.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
        assert victim.get("/api/v1/datasets").status_code == 401
    assert "Shared cache unreachable" in caplog.text


def _counter(key_id):
    from django_redis import get_redis_connection

    return int(get_redis_connection("default").get(f"openpaas:rl:credential:{key_id}") or 0)


redis_only = pytest.mark.skipif(not settings.REDIS_URL, reason="the shared cache's own connection: Redis only")


@redis_only
@pytest.mark.parametrize("lose", ["connection", "script"])
def test_a_lost_connection_or_script_costs_the_request_nothing(tenant, caplog, lose):
    """The per-request round trip runs on each thread's own connection (core.gate): a connection the
    server closed (a restart) or a script it no longer has is replaced on the spot, and the request is
    still counted and its cached key still checked."""
    from django_redis import get_redis_connection

    from core import gate

    secret = tenant.key("viewer")
    client = warm(api_client(secret))
    key_id = APIKey.unscoped.get(prefix=secret[:16]).id
    before = _counter(key_id)
    if lose == "connection":
        host, port = gate._own.connection._sock.getsockname()[:2]
        get_redis_connection("default").client_kill(f"{host}:{port}")  # this thread's own connection only
    else:
        get_redis_connection("default").script_flush()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 0  # the generation was read: the cached key is still trusted
    assert _counter(key_id) == before + 1
    assert "Shared cache unreachable" not in caplog.text

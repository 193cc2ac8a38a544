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


@redis_only
def test_the_round_trip_of_a_cached_key_starts_at_the_door_and_counts_once(tenant, monkeypatch):
    """accounts.auth.read_ahead sends the gate read in the first middleware; authentication then reads
    that reply and sends nothing of its own."""
    from core import gate

    secret = tenant.key("viewer")
    client = warm(api_client(secret))
    key_id = APIKey.unscoped.get(prefix=secret[:16]).id
    before = _counter(key_id)

    def second_round_trip(reading):
        raise AssertionError("authentication read the gate again")

    monkeypatch.setattr(gate, "read", second_round_trip)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 0
    assert _counter(key_id) == before + 1


def _organization_counter(tenant, livemode=True):
    from django_redis import get_redis_connection

    return int(get_redis_connection("default").get(f"openpaas:rl:organization:{tenant.org.id}:{int(livemode)}") or 0)


@redis_only
@pytest.mark.parametrize("path, status", [
    ("/api/v1/no-such-resource", 404),  # never reaches a view
    ("/api/v1/me?api_key=x", 401),  # refused before authentication reads the reply
    ("/api/v1/auth/token/revoke", 400),  # a view without bearer authentication
])
def test_a_request_not_authenticated_gives_back_what_was_read_ahead(tenant, path, status):
    """The read sent at the door counted the request; a request answered without being authenticated
    gives its counts back (only authenticated requests spend a budget), and the reply is read on the way
    out, so the next request on this thread reads its own."""
    secret = tenant.key("viewer")
    client = warm(api_client(secret))
    key_id = APIKey.unscoped.get(prefix=secret[:16]).id
    before, organization_before = _counter(key_id), _organization_counter(tenant)
    method = client.post if path.endswith("revoke") else client.get
    assert method(path).status_code == status
    assert (_counter(key_id), _organization_counter(tenant)) == (before, organization_before)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 0  # the generation read was this request's own: the cached key is still trusted
    assert _counter(key_id) == before + 1


@redis_only
def test_a_revoked_key_cannot_spend_its_organizations_budget(tenant):
    """A revoked key is refused and forgotten on its next request; after that its requests, reaching a
    view or not, count against nothing, and the organization's other keys go on."""
    admin = tenant.client("admin")
    created = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json").json()
    revoked = warm(api_client(created["secret"]), "/api/v1/datasets")
    assert admin.delete(f"/api/v1/api-keys/{created['id']}").status_code == 204
    assert revoked.get("/api/v1/datasets").status_code == 401
    before = _organization_counter(tenant)
    for _ in range(5):
        assert revoked.get("/api/v1/no-such-resource").status_code == 404
        assert revoked.get("/api/v1/datasets").status_code == 401
    assert _organization_counter(tenant) == before
    assert not credential_cache.store.holds(APIKey.unscoped.get(id=created["id"]).digest)


@redis_only
def test_a_reply_sent_ahead_is_read_before_the_next_command_and_only_by_its_thread():
    from concurrent.futures import ThreadPoolExecutor

    from core import gate

    reading = gate.reading_for("key_read_ahead_test", "org_read_ahead_test", True)
    used = lambda outcome: outcome[1][0].used  # noqa: E731 (the credential's counter)

    ahead = gate.read_ahead(reading)
    after = gate.read(reading)  # sent on the same connection: the reply ahead of it is read first
    assert used(after) == used(ahead.result()) + 1

    ahead = gate.read_ahead(reading)
    with ThreadPoolExecutor(1) as pool:
        # Another thread may not read this thread's connection: it is answered as if the cache were
        # unreachable (nothing trusted), and the reply stays for its own thread.
        assert pool.submit(ahead.result).result() == (None, [])
    assert used(ahead.result()) == used(after) + 1


@redis_only
def test_an_unanswering_cache_costs_a_request_one_timeout_not_two(tenant, caplog):
    """A Redis that accepts connections and never answers: the read sent ahead times out once, and
    authentication does not try again (the cached key is not trusted: it is reloaded)."""
    import socket
    import time

    client = warm(tenant.client("viewer"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    silent = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": silent,
                          "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}}}
    try:
        with override_settings(REDIS_URL=silent, CACHES=caches):
            started = time.monotonic()
            assert client.get("/api/v1/me").status_code == 200
            assert time.monotonic() - started < 0.9
    finally:
        listener.close()
    assert caplog.text.count("Shared cache unreachable") == 1

"""API keys: the format, how they authenticate, and their life: scopes, expiry, revocation, rolling."""

import hashlib
import re
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth import keys
from core.ids import BASE62
from accounts.models import APIKey
from audit.models import AuditEvent
from tests.conftest import api_client

README_PATTERN = re.search(r"```\n(\\bsk_.*)\n```", Path(__file__).resolve().parents[2].joinpath("README.md").read_text()).group(1)


def invalid_key_error(response):
    assert response.status_code == 401
    error = response.json()["error"]
    return {k: v for k, v in error.items() if k != "request_id"}


# Format


@pytest.mark.parametrize("livemode,prefix", [(True, "sk_live_"), (False, "sk_test_")])
def test_key_format_has_mode_prefix_random_part_and_crc32_checksum(livemode, prefix):
    secret = keys.generate(livemode)
    assert secret.startswith(prefix)
    body = secret[len(prefix):]
    random_part, checksum = body[:43], body[43:]
    assert len(checksum) == 6 and all(c in BASE62 for c in body)
    number = 0
    for char in checksum:
        number = number * 62 + BASE62.index(char)
    assert number == zlib.crc32(random_part.encode())
    assert re.fullmatch(README_PATTERN, secret), "the README's published pattern must match real keys"


def test_keys_carry_at_least_256_random_bits_and_do_not_repeat():
    generated = {keys.generate(True) for _ in range(2000)}
    assert len(generated) == 2000
    assert 62 ** 43 >= 2 ** 256


def test_a_one_character_typo_fails_the_checksum():
    secret = keys.generate(True)
    typo = secret[:20] + ("A" if secret[20] != "A" else "B") + secret[21:]
    assert keys.parse(secret) is not None
    assert keys.parse(typo) is None


@pytest.mark.django_db
def test_only_prefix_last4_and_sha256_are_stored(tenant):
    secret = tenant.key("admin")
    stored = APIKey.unscoped.get(prefix=secret[:16])
    assert stored.digest == hashlib.sha256(secret.encode()).hexdigest()
    assert stored.last4 == secret[-4:]
    row = APIKey.unscoped.filter(pk=stored.pk).values().first()
    assert not any(secret in str(value) for value in row.values())


# Authentication


def test_keys_of_bad_shape_or_checksum_cost_no_query(tenant):
    secret = tenant.key("admin")
    bad_checksum = secret[:-1] + ("0" if secret[-1] != "0" else "1")
    for token in ["sk_live_short", "sk_prod_" + secret[8:], bad_checksum, "x" * 500, "sk_test_" + "é" * 49]:
        client = api_client(token)
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/me")
        assert response.status_code == 401
        assert len(queries) == 0, (token, [q["sql"] for q in queries])


def test_a_valid_key_costs_one_query_without_the_credential_cache(tenant, settings):
    settings.OPENPAAS_CREDENTIAL_CACHE_SECONDS = 0
    client = tenant.client("developer")
    client.get("/api/v1/me")  # first use writes last-used, once a minute
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me").status_code == 200
    assert len(queries) == 1


def _basic(user, password=""):
    import base64

    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_each_refused_key_is_told_what_is_wrong_with_it(tenant, other_tenant):
    """As Stripe's: a typo, an unknown key, a revoked or expired one each have their own code; none of them
    says anything about an organization (only the key's holder can be told it is revoked: the digest
    matched). Another organization's revoked key is answered as this one's would be."""
    revoked = tenant.key("admin")
    APIKey.unscoped.filter(prefix=revoked[:16]).update(revoked_at=timezone.now())
    expired = tenant.key("admin", expires_at=timezone.now() + timedelta(seconds=1))
    APIKey.unscoped.filter(prefix=expired[:16]).update(expires_at=timezone.now() - timedelta(seconds=1))
    theirs = other_tenant.key("admin")
    APIKey.unscoped.filter(prefix=theirs[:16]).update(revoked_at=timezone.now())
    unknown = keys.generate(False)
    mistyped = unknown[:20] + ("A" if unknown[20] != "A" else "B") + unknown[21:]
    cases = [
        (f"Bearer {unknown}", "invalid_api_key"),
        (f"Bearer {mistyped}", "api_key_checksum_invalid"),
        ("Bearer sk_test_nope", "api_key_malformed"),
        (f"Bearer {revoked}", "api_key_revoked"),
        (f"Bearer {theirs}", "api_key_revoked"),
        (f"Bearer {expired}", "api_key_expired"),
        (unknown, "authorization_scheme_invalid"),  # no scheme at all
        (f"Token {unknown}", "authorization_scheme_invalid"),
        (_basic(unknown, "a password"), "authorization_scheme_invalid"),  # Basic takes a key with no password
    ]
    for header, code in cases:
        response = api_client().get("/api/v1/connectors", HTTP_AUTHORIZATION=header)
        error = response.json()["error"]
        assert (response.status_code, error["code"], error["type"]) == (401, code, "authentication_error"), header
        assert error["doc_url"] == f"{settings.OPENPAAS_PUBLIC_URL}/docs/errors#{code}"
        assert tenant.org.id not in str(error) and other_tenant.org.id not in str(error)


def test_a_key_is_taken_as_the_user_name_of_http_basic_as_curl_u_sends_it(tenant):
    secret = tenant.key("developer")
    response = api_client().get("/api/v1/me", HTTP_AUTHORIZATION=_basic(secret))
    assert response.status_code == 200 and response.json()["credential"]["kind"] == "api_key"


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer ", "Token sk_test_x", "bearer"])
def test_other_authorization_schemes_are_refused(tenant, header):
    client = api_client()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("query", ["api_key={key}", "key={key}", "access_token={key}", "foo={key}", "token=abc"])
def test_a_key_in_the_query_string_is_refused_even_with_a_valid_header(tenant, query):
    secret = tenant.key("admin")
    client = api_client(secret)
    response = client.get("/api/v1/connectors?" + query.format(key=secret))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "credentials_in_url"
    assert api_client().get("/api/v1/me?" + query.format(key=secret)).status_code == 401


def test_last_used_time_and_address_are_written_at_most_once_a_minute(tenant, settings):
    secret = tenant.key("viewer")
    client = api_client(secret)
    client.get("/api/v1/me", REMOTE_ADDR="203.0.113.7")
    api_key = APIKey.unscoped.get(prefix=secret[:16])
    first_use = api_key.last_used_at
    assert first_use is not None and api_key.last_used_ip == "203.0.113.7"
    client.get("/api/v1/me", REMOTE_ADDR="203.0.113.8")
    api_key.refresh_from_db()
    assert (api_key.last_used_at, api_key.last_used_ip) == (first_use, "203.0.113.7")
    settings.OPENPAAS_KEY_LAST_USED_INTERVAL = 0  # as if the minute had passed
    client.get("/api/v1/me", REMOTE_ADDR="203.0.113.8")
    api_key.refresh_from_db()
    assert api_key.last_used_ip == "203.0.113.8" and api_key.last_used_at > first_use


def test_a_deactivated_persons_keys_stop_working(tenant):
    client = tenant.client("developer")
    assert client.get("/api/v1/me").status_code == 200
    user = tenant.member("developer").user
    user.is_active = False
    user.save()
    assert client.get("/api/v1/me").status_code == 401


def test_me_describes_the_principal(tenant):
    secret = tenant.key("viewer", livemode=True)
    body = api_client(secret).get("/api/v1/me").json()
    api_key = APIKey.unscoped.get(prefix=secret[:16])
    assert body["organization"] == {"id": tenant.org.id, "name": "Acme"}
    assert body["member"]["id"] == tenant.member("viewer").id
    assert body["role"] == "viewer" and body["livemode"] is True
    assert body["scopes"] == ["connectors:read", "data:read"]
    assert body["credential"] == {"kind": "api_key", "id": api_key.id}


# Effective scopes


def test_effective_scopes_are_the_keys_scopes_within_the_holders_current_role(tenant):
    narrow = api_client(tenant.key("developer", scopes=["connectors:read"]))
    assert narrow.get("/api/v1/me").json()["scopes"] == ["connectors:read"]
    assert narrow.post("/api/v1/datasets", {"name": "x"}, format="json").status_code == 403

    write_only = api_client(tenant.key("developer", scopes=["connectors:write"]))
    assert write_only.get("/api/v1/me").json()["scopes"] == ["connectors:read", "connectors:write"], "write implies read"


def test_demoting_a_member_narrows_every_key_they_hold_on_the_next_request(tenant):
    admin_key = tenant.client("admin", livemode=True)
    developer = tenant.member("developer")
    keys_of_developer = [tenant.client("developer") for _ in range(2)]
    for client in keys_of_developer:
        assert client.post("/api/v1/connectors", {"name": "a", "type": "csv"}, format="json").status_code == 201
    assert admin_key.patch(f"/api/v1/members/{developer.id}", {"role": "viewer"}, format="json").status_code == 200
    for client in keys_of_developer:
        response = client.post("/api/v1/connectors", {"name": "b", "type": "csv"}, format="json")
        assert response.status_code == 403
        assert response.json()["error"]["required_scope"] == "connectors:write"
        assert client.get("/api/v1/connectors").status_code == 200


# The API: create, list, revoke, roll


def test_create_shows_the_secret_once_and_lists_it_masked(tenant):
    admin = tenant.client("admin")
    created = admin.post("/api/v1/api-keys", {"name": "Deploy", "scopes": ["connectors:read"]}, format="json")
    assert created.status_code == 201
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("sk_test_") and body["livemode"] is False
    assert body["redacted"] == f"{secret[:16]}...{secret[-4:]}"
    assert api_client(secret).get("/api/v1/connectors").status_code == 200

    listed = admin.get("/api/v1/api-keys").json()["data"]
    retrieved = admin.get(f"/api/v1/api-keys/{body['id']}").json()
    for shown in (listed, retrieved):
        assert secret not in str(shown) and "secret" not in str(shown).replace("'redacted'", "")
    assert body["id"] in [k["id"] for k in listed]
    event = AuditEvent.unscoped.get(action="api_key.created", target_id=body["id"])
    assert secret not in str(event.metadata)


def test_created_keys_expire(tenant):
    admin = tenant.client("admin")
    expires_at = (timezone.now() + timedelta(hours=1)).isoformat()
    body = admin.post("/api/v1/api-keys", {"name": "Temp", "scopes": ["data:read"], "expires_at": expires_at}, format="json").json()
    client = api_client(body["secret"])
    assert client.get("/api/v1/datasets").status_code == 200
    APIKey.unscoped.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/v1/datasets").status_code == 401
    past = admin.post("/api/v1/api-keys", {"name": "Old", "scopes": ["data:read"],
                                           "expires_at": "2001-01-01T00:00:00Z"}, format="json")
    assert past.status_code == 400 and "expires_at" in past.json()["error"]["details"]


@pytest.mark.parametrize("scopes,message", [
    (["connectors:read", "conectors:read"], "connectors:read, connectors:write, data:read"),  # lists the scopes
    (["connectors:read", "conectors:read"], ": 'conectors:read'."),  # and names the one it does not know
    ([], "This list may not be empty."),
])
def test_invalid_scopes_are_named(tenant, scopes, message):
    response = tenant.client("admin").post("/api/v1/api-keys", {"name": "x", "scopes": scopes}, format="json")
    assert response.status_code == 400
    assert message in str(response.json()["error"]["details"]["scopes"])


def test_a_key_cannot_grant_scopes_its_creator_does_not_hold(tenant):
    narrowed_admin = tenant.client("admin", scopes=["org:admin", "connectors:read"])
    response = narrowed_admin.post("/api/v1/api-keys", {"name": "x", "scopes": ["connectors:read", "data:write"]}, format="json")
    assert response.status_code == 400
    assert "data:write" in response.json()["error"]["details"]["scopes"][0]


def test_keys_for_another_member_stay_within_that_members_role(tenant):
    admin = tenant.client("admin")
    viewer = tenant.member("viewer")
    too_much = admin.post("/api/v1/api-keys", {"name": "x", "member": viewer.id, "scopes": ["data:write"]}, format="json")
    assert too_much.status_code == 400 and "data:write" in str(too_much.json()["error"]["details"])
    ok = admin.post("/api/v1/api-keys", {"name": "x", "member": viewer.id, "scopes": ["data:read"]}, format="json")
    assert ok.status_code == 201 and ok.json()["member"] == viewer.id
    me = api_client(ok.json()["secret"]).get("/api/v1/me").json()
    assert me["member"]["id"] == viewer.id


def test_a_key_for_a_member_of_another_organization_is_refused(tenant, other_tenant):
    response = tenant.client("admin").post(
        "/api/v1/api-keys", {"name": "x", "member": other_tenant.member("developer").id, "scopes": ["data:read"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["member"] == ["No such member."]


def test_an_api_key_without_org_admin_cannot_create_keys(tenant):
    response = tenant.client("developer").post("/api/v1/api-keys", {"name": "x", "scopes": ["data:read"]}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["required_scope"] == "org:admin"


def test_revoking_ends_the_key_at_once_and_is_audited_once(tenant):
    admin = tenant.client("admin")
    body = admin.post("/api/v1/api-keys", {"name": "x", "scopes": ["data:read"]}, format="json").json()
    victim = api_client(body["secret"])
    assert victim.get("/api/v1/datasets").status_code == 200
    assert admin.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    assert victim.get("/api/v1/datasets").status_code == 401
    assert admin.get(f"/api/v1/api-keys/{body['id']}").json()["status"] == "revoked"
    assert admin.delete(f"/api/v1/api-keys/{body['id']}").status_code == 204
    assert AuditEvent.unscoped.filter(action="api_key.revoked", target_id=body["id"]).count() == 1


@pytest.mark.django_db(transaction=True)  # the revocation must commit to reach a cached key
def test_a_key_can_revoke_itself(tenant):
    secret = tenant.key("admin")
    client = api_client(secret)
    own_id = client.get("/api/v1/me").json()["credential"]["id"]
    assert client.delete(f"/api/v1/api-keys/{own_id}").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_rolling_issues_a_new_key_and_keeps_the_old_one_for_the_grace_period(tenant):
    admin = tenant.client("admin")
    old = admin.post("/api/v1/api-keys", {"name": "Worker", "scopes": ["data:read"]}, format="json").json()
    rolled = admin.post(f"/api/v1/api-keys/{old['id']}/roll", {"expires_in": 3600}, format="json")
    assert rolled.status_code == 201
    new = rolled.json()
    assert new["secret"] != old["secret"] and new["name"] == "Worker" and new["scopes"] == ["data:read"]
    assert api_client(new["secret"]).get("/api/v1/datasets").status_code == 200
    assert api_client(old["secret"]).get("/api/v1/datasets").status_code == 200
    old_row = APIKey.unscoped.get(pk=old["id"])
    assert old_row.rolled_to_id == new["id"]
    assert timedelta(minutes=59) < old_row.expires_at - timezone.now() <= timedelta(hours=1)
    # after the grace period, only the new key works
    APIKey.unscoped.filter(pk=old["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_client(old["secret"]).get("/api/v1/datasets").status_code == 401
    assert api_client(new["secret"]).get("/api/v1/datasets").status_code == 200
    assert AuditEvent.unscoped.filter(action="api_key.rolled", target_id=old["id"]).exists()


def _roll_chain(admin, length):
    """A key rolled ``length - 1`` times, each with a day of grace: every key of it still works."""
    keys = [admin.post("/api/v1/api-keys", {"name": "Worker", "scopes": ["data:read"]}, format="json").json()]
    for _ in range(length - 1):
        keys.append(admin.post(f"/api/v1/api-keys/{keys[-1]['id']}/roll", {"expires_in": 86400}, format="json").json())
    assert all(api_client(key["secret"]).get("/api/v1/datasets").status_code == 200 for key in keys)
    return keys


@pytest.mark.parametrize("revoked", [2, 1, 0])
def test_revoking_a_key_revokes_every_key_it_replaced_but_not_its_replacement(tenant, revoked):
    admin = tenant.client("admin")
    chain = _roll_chain(admin, 3)
    assert admin.delete(f"/api/v1/api-keys/{chain[revoked]['id']}").status_code == 204
    for position, key in enumerate(chain):
        expected = 401 if position <= revoked else 200
        assert api_client(key["secret"]).get("/api/v1/datasets").status_code == expected, position
    events = AuditEvent.unscoped.filter(action="api_key.revoked")
    assert sorted(events.values_list("target_id", flat=True)) == sorted(k["id"] for k in chain[:revoked + 1])
    assert len({event.request_id for event in events}) == 1  # one request, one transaction
    for event in events.exclude(target_id=chain[revoked]["id"]):
        assert event.metadata["reason"] == "replacement_revoked"
    # Revoking again, or revoking a replaced key already revoked, writes nothing more.
    admin.delete(f"/api/v1/api-keys/{chain[revoked]['id']}")
    admin.delete(f"/api/v1/api-keys/{chain[0]['id']}")
    assert AuditEvent.unscoped.filter(action="api_key.revoked").count() == revoked + 1


def test_rolling_defaults_to_24_hours_and_zero_means_now(tenant):
    admin = tenant.client("admin")
    first = admin.post("/api/v1/api-keys", {"name": "a", "scopes": ["data:read"]}, format="json").json()
    admin.post(f"/api/v1/api-keys/{first['id']}/roll")
    remaining = APIKey.unscoped.get(pk=first["id"]).expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < remaining <= timedelta(hours=24)

    second = admin.post("/api/v1/api-keys", {"name": "b", "scopes": ["data:read"]}, format="json").json()
    admin.post(f"/api/v1/api-keys/{second['id']}/roll", {"expires_in": 0}, format="json")
    assert api_client(second["secret"]).get("/api/v1/datasets").status_code == 401


@pytest.mark.parametrize("body", [{"expires_in": -1}, {"expires_in": 10**9}, {"expires_in": "soon"}, {"grace": 5}])
def test_roll_validates_its_grace_period(tenant, body):
    admin = tenant.client("admin")
    key = admin.post("/api/v1/api-keys", {"name": "a", "scopes": ["data:read"]}, format="json").json()
    assert admin.post(f"/api/v1/api-keys/{key['id']}/roll", body, format="json").status_code == 400
    assert APIKey.unscoped.get(pk=key["id"]).rolled_to_id is None


def test_revoked_or_already_rolled_keys_cannot_be_rolled(tenant):
    admin = tenant.client("admin")
    key = admin.post("/api/v1/api-keys", {"name": "a", "scopes": ["data:read"]}, format="json").json()
    assert admin.post(f"/api/v1/api-keys/{key['id']}/roll").status_code == 201
    assert admin.post(f"/api/v1/api-keys/{key['id']}/roll").status_code == 409
    other = admin.post("/api/v1/api-keys", {"name": "b", "scopes": ["data:read"]}, format="json").json()
    admin.delete(f"/api/v1/api-keys/{other['id']}")
    assert admin.post(f"/api/v1/api-keys/{other['id']}/roll").status_code == 409


def test_keys_are_listed_per_mode(tenant):
    live_admin = tenant.client("admin", livemode=True)
    test_admin = tenant.client("admin", livemode=False)
    live_key = live_admin.post("/api/v1/api-keys", {"name": "l", "scopes": ["data:read"]}, format="json").json()
    assert live_key["secret"].startswith("sk_live_")
    assert live_key["id"] not in [k["id"] for k in test_admin.get("/api/v1/api-keys?limit=100").json()["data"]]
    assert test_admin.get(f"/api/v1/api-keys/{live_key['id']}").status_code == 404


def test_a_key_sent_as_http_basic_gets_its_one_time_secret_again_on_an_idempotent_retry(tenant):
    """The replay of a response with a one-time secret is sealed under the credential that made the first
    request: as Basic's user name that is still the key, so a `curl -u` retry gets the secret back."""
    admin = api_client()
    headers = {"HTTP_AUTHORIZATION": _basic(tenant.key("admin")), "HTTP_IDEMPOTENCY_KEY": "create-ci-key-1"}
    first = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json", **headers)
    again = admin.post("/api/v1/api-keys", {"name": "ci", "scopes": ["data:read"]}, format="json", **headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["secret"] == first.json()["secret"]

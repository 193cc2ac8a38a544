"""Refusals are cheap: a flood of bad credentials or denied requests is answered 429 before anything is
written, and the audit log gets one event a minute per key (or per credential and scope) with a count.

Runs on the local-memory cache (SQLite) and on Redis (PostgreSQL + REDIS_URL) alike.
"""

import pytest
from django.utils import timezone

from core import gate
from accounts.auth import keys
from accounts.models import APIKey
from audit.models import AuditEvent
from tests.conftest import api_client
from tests.support.refusals import next_minute

pytestmark = pytest.mark.django_db

DATASETS = "/api/v1/datasets"


@pytest.fixture
def refusal_rates(settings):
    def set_rates(per_address="1000/m", per_credential="1000/m"):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "refused_address": per_address, "refused_credential": per_credential}}
    return set_rates


def revoked_key(tenant):
    secret = tenant.key("developer")
    api_key = APIKey.unscoped.get(prefix=keys.parse(secret).prefix)
    APIKey.unscoped.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    return secret, api_key


def assert_rate_limited(response):
    assert response.status_code == 429, response.content
    error = response.json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_two_hundred_requests_with_a_revoked_key_get_429_and_one_audit_event(tenant, refusal_rates):
    refusal_rates(per_address="60/m", per_credential="20/m")  # the defaults
    secret, api_key = revoked_key(tenant)
    client = api_client(secret)
    statuses = [client.get(DATASETS).status_code for _ in range(200)]
    assert statuses == [401] * 20 + [429] * 180
    assert_rate_limited(client.get(DATASETS))
    events = AuditEvent.unscoped.filter(action="api_key.refused")
    assert [(e.target_id, e.metadata["reason"], e.metadata["count"]) for e in events] == [(api_key.id, "revoked", 1)]


def test_the_next_minutes_event_counts_the_refusals_held_back(tenant, refusal_rates):
    refusal_rates(per_credential="5/m")
    secret, api_key = revoked_key(tenant)
    client = api_client(secret)
    for _ in range(30):
        client.get(DATASETS)
    assert AuditEvent.unscoped.filter(action="api_key.refused").count() == 1
    next_minute(f"api_key:{api_key.id}")
    assert_rate_limited(client.get(DATASETS))  # still over its budget: audited all the same
    counts = list(AuditEvent.unscoped.filter(action="api_key.refused").order_by("created_at", "id")
                  .values_list("metadata__count", flat=True))
    assert counts == [1, 30]  # 29 held back, and this one


def test_guessing_keys_from_one_address_is_limited_there_only(tenant, refusal_rates):
    refusal_rates(per_address="5/m")
    guesses = [api_client(keys.generate(livemode=True)).get(DATASETS, REMOTE_ADDR="203.0.113.9") for _ in range(8)]
    assert [r.status_code for r in guesses] == [401] * 5 + [429] * 3
    assert_rate_limited(guesses[-1])
    assert api_client(keys.generate(livemode=True)).get(DATASETS, REMOTE_ADDR="203.0.113.10").status_code == 401
    # A valid key from the refused address still works: only refusals are counted there.
    assert api_client(tenant.key("developer")).get(DATASETS, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert not AuditEvent.unscoped.filter(action="api_key.refused").exists()  # unknown keys are nobody's


@pytest.mark.parametrize("token", ["oat_" + "x" * 40, "not.a.jwt", "sk_live_malformed"])
def test_every_kind_of_bad_token_counts(tenant, refusal_rates, token):
    refusal_rates(per_credential="3/m")
    client = api_client(token)
    assert [client.get(DATASETS).status_code for _ in range(5)] == [401] * 3 + [429] * 2


def test_a_key_hammering_a_route_it_lacks_the_scope_for_is_limited_and_audited_once(tenant, refusal_rates):
    refusal_rates(per_credential="5/m")
    viewer = api_client(tenant.key("viewer"))
    responses = [viewer.post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json") for _ in range(12)]
    assert [r.status_code for r in responses] == [403] * 5 + [429] * 7
    assert responses[0].json()["error"]["required_scope"] == "connectors:write"
    assert_rate_limited(responses[-1])
    events = AuditEvent.unscoped.filter(action="access.denied")
    assert [(e.metadata["required_scope"], e.metadata["count"]) for e in events] == [("connectors:write", 1)]
    assert viewer.get("/api/v1/connectors").status_code == 200  # reads it may do are not refusals
    principal_id = AuditEvent.unscoped.get(action="access.denied").credential_id
    next_minute(f"denied:api_key:{principal_id}:connectors:write:missing_scope")
    viewer.post("/api/v1/connectors", {"name": "x", "type": "csv"}, format="json")
    assert list(events.order_by("created_at", "id").values_list("metadata__count", flat=True)) == [1, 12]  # 11 held back, and this one


def test_test_mode_refusals_of_organization_wide_changes_are_limited_too(tenant, refusal_rates):
    refusal_rates(per_credential="3/m")
    test_admin = api_client(tenant.key("admin", livemode=False))
    path = f"/api/v1/members/{tenant.member('developer').id}"
    statuses = [test_admin.patch(path, {"role": "admin"}, format="json").status_code for _ in range(5)]
    assert statuses == [403] * 3 + [429] * 2
    assert AuditEvent.unscoped.filter(action="access.denied").count() == 1


def test_an_accepted_request_still_costs_one_cache_round_trip_and_only_refusals_pay_for_more(tenant, monkeypatch):
    calls = []
    for name in ("read", "refuse"):
        original = getattr(gate, name)
        monkeypatch.setattr(gate, name, lambda *args, _name=name, _original=original, **kwargs:
                            calls.append(_name) or _original(*args, **kwargs))
    assert api_client(tenant.key("viewer")).get(DATASETS).status_code == 200
    assert calls == ["read"]
    calls.clear()
    assert api_client(revoked_key(tenant)[0]).get(DATASETS).status_code == 401
    assert calls == ["refuse"]

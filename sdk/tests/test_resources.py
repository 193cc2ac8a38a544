"""Every resource against the real platform: create, retrieve, update, delete, and lists that follow
cursors across pages."""

from __future__ import annotations

import secrets

import pytest

from openpaas_sdk import AuthenticationError, NotFoundError, OpenPaaSClient, PermissionDeniedError, webhooks
from servers import Platform


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def test_connector_crud(client: OpenPaaSClient) -> None:
    created = client.connectors.create(name=unique("billing"), type="http",
                                       config={"base_url": "https://billing.example.com"}, credentials={"token": "t0k"})
    assert created["object"] == "connector" and created["has_credentials"] is True
    assert "credentials" not in created  # write-only
    assert client.connectors.retrieve(created["id"]) == created
    updated = client.connectors.update(created["id"], name="renamed")
    assert updated["name"] == "renamed" and updated["config"] == created["config"]
    assert client.connectors.delete(created["id"]) is None
    with pytest.raises(NotFoundError):
        client.connectors.retrieve(created["id"])


def test_workflow_crud(client: OpenPaaSClient) -> None:
    connector = client.connectors.create(name=unique("src"), type="http", config={"base_url": "https://src.example"})
    workflow = client.workflows.create(name=unique("flow"), connector=connector["id"])
    assert workflow["object"] == "workflow" and workflow["connector"] == connector["id"]
    assert client.workflows.update(workflow["id"], name="nightly")["name"] == "nightly"
    assert any(w["id"] == workflow["id"] for w in client.workflows.list(limit=100))
    client.workflows.delete(workflow["id"])
    client.connectors.delete(connector["id"])


def test_list_follows_cursors_lazily_across_pages(client: OpenPaaSClient) -> None:
    created = [client.datasets.create(name=unique("page"))["id"] for _ in range(7)]
    pages = client.datasets.list(limit=2)
    assert pages.pages_fetched == 0  # nothing requested yet
    first_two = [next(pages), next(pages)]
    assert pages.pages_fetched == 1 and pages.has_more
    rest = list(pages)
    seen = [d["id"] for d in first_two + rest]
    assert len(seen) == len(set(seen)), "no object twice"
    assert set(created) <= set(seen)
    # newest first: the seven just made lead, in reverse creation order
    assert seen[:7] == created[::-1]
    assert pages.pages_fetched >= 4 and pages.has_more is False and pages.next_cursor is None
    for dataset_id in created:
        client.datasets.delete(dataset_id)


def test_list_resumes_from_a_saved_cursor(client: OpenPaaSClient) -> None:
    for _ in range(3):
        client.datasets.create(name=unique("cursor"))
    pages = client.datasets.list(limit=1)
    first = next(pages)
    resumed = next(client.datasets.list(limit=1, cursor=pages.next_cursor))
    assert resumed["id"] != first["id"] and resumed["id"] == next(pages)["id"]


def test_dataset_records_append_filter_order_and_pages(client: OpenPaaSClient) -> None:
    dataset = client.datasets.create(name=unique("invoices"), description="SDK records test")
    records = client.datasets.records(dataset["id"])
    batch = records.append([
        {"n": 1, "status": "paid", "amount": 10},
        {"n": 2, "status": "open", "amount": 25.5},
        {"n": 3, "status": "paid", "amount": 40},
        {"n": 4, "status": "10", "amount": 5},
        {"n": 5, "status": "paid", "amount": 7, "flag": True},
    ])
    assert batch["appended"] == 5 and batch["first_seq"] == 1 and batch["record_count"] == 5
    assert client.datasets.retrieve(dataset["id"])["record_count"] == 5

    everything = records.list(limit=2)
    assert [r["data"]["n"] for r in everything] == [1, 2, 3, 4, 5]
    assert everything.pages_fetched == 3

    paid = records.list(status="paid", limit=2)
    assert [r["data"]["n"] for r in paid] == [1, 3, 5]
    # values keep their JSON type: the string "10" is not the number 10
    assert [r["data"]["n"] for r in records.list(status="10")] == [4]
    assert [r["data"]["n"] for r in records.list(status=10)] == []
    assert [r["data"]["n"] for r in records.list(flag=True)] == [5]
    assert [r["data"]["n"] for r in records.list(amount__gte=10, amount__lt=40)] == [1, 2]
    assert [r["data"]["n"] for r in records.list(status__in=["open", "10"])] == [2, 4]
    assert [r["data"]["n"] for r in records.list(status__ne="paid")] == [2, 4]
    # ordering by a field, across pages (position cursors)
    by_amount = records.list(order_by="-amount", limit=2)
    assert [r["data"]["n"] for r in by_amount] == [3, 2, 1, 5, 4]
    assert [r["data"]["n"] for r in records.list(order_by="-seq", limit=3)] == [5, 4, 3, 2, 1]
    with pytest.raises(ValueError, match="commas"):
        records.list(status__in=["a,b"])
    with pytest.raises(TypeError):
        records.list(status={"nested": 1})
    client.datasets.delete(dataset["id"])


def test_webhook_endpoint_crud_and_its_secret_verifies(client: OpenPaaSClient) -> None:
    endpoint = client.webhook_endpoints.create(url="https://hooks.example.com/openpaas", events=["connector.created"])
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")
    # The platform's secret works with the SDK's Standard Webhooks helpers.
    body = '{"type": "connector.created", "data": {"id": "conn_x"}}'
    assert webhooks.verify(body, webhooks.sign(body, secret), secret)["data"]["id"] == "conn_x"
    fetched = client.webhook_endpoints.retrieve(endpoint["id"])
    assert "secret" not in fetched  # shown once
    updated = client.webhook_endpoints.update(endpoint["id"], enabled=False, events=["*"])
    assert updated["enabled"] is False and updated["events"] == ["*"]
    client.webhook_endpoints.delete(endpoint["id"])


def test_api_keys_create_list_retrieve_roll_revoke(client: OpenPaaSClient, platform: Platform) -> None:
    created = client.api_keys.create(name=unique("ci"), scopes=["connectors:read"])
    secret = created["secret"]
    assert secret.startswith("sk_test_") and created["status"] == "active"
    assert client.api_keys.retrieve(created["id"])["redacted"].endswith(secret[-4:])
    assert "secret" not in client.api_keys.retrieve(created["id"])
    assert any(k["id"] == created["id"] for k in client.api_keys.list(limit=100))

    with OpenPaaSClient(api_key=secret, base_url=platform.base_url) as holder:
        assert holder.me()["scopes"] == ["connectors:read"]
        rolled = client.api_keys.roll(created["id"], expires_in=0)  # the old key stops now
        assert rolled["secret"] != secret and rolled["id"] != created["id"]
        with pytest.raises(AuthenticationError):
            holder.me()
    with OpenPaaSClient(api_key=rolled["secret"], base_url=platform.base_url) as holder:
        assert holder.me()["credential"]["id"] == rolled["id"]
        client.api_keys.revoke(rolled["id"])
        with pytest.raises(AuthenticationError) as caught:
            holder.me()
        assert caught.value.code == "api_key_revoked"
    assert client.api_keys.retrieve(rolled["id"])["status"] == "revoked"


def test_members_service_member_lifecycle(client: OpenPaaSClient, live_client: OpenPaaSClient,
                                          platform: Platform) -> None:
    member = live_client.members.create(role="service", name=unique("etl bot"), scopes=["data:read"])
    assert member["role"] == "service" and member["scopes"] == ["data:read"]
    assert live_client.members.update(member["id"], scopes=["data:read", "data:write"])["scopes"] == ["data:read", "data:write"]
    key = client.api_keys.create(name="bot key", member=member["id"], scopes=["data:read"])  # a test-mode key
    assert any(m["id"] == member["id"] for m in client.members.list())  # test mode may read members
    with pytest.raises(PermissionDeniedError) as caught:
        client.members.delete(member["id"])
    assert caught.value.code == "livemode_required"
    live_client.members.delete(member["id"])  # takes the member's keys with it
    with OpenPaaSClient(api_key=key["secret"], base_url=platform.base_url) as bot:
        with pytest.raises(AuthenticationError):
            bot.me()


def test_invitations_invite_list_resend_and_cancel(client: OpenPaaSClient, live_client: OpenPaaSClient) -> None:
    email = f"{unique('invitee')}@sdk-tests.example".replace(" ", "-")
    invitation = live_client.members.create(email=email, role="developer")
    assert client.invitations.retrieve(invitation["id"])["email"] == email  # test mode may read them
    assert invitation["id"] in [i["id"] for i in live_client.invitations.list(status="pending")]
    resent = live_client.invitations.resend(invitation["id"])
    assert resent["id"] == invitation["id"]
    with pytest.raises(PermissionDeniedError) as caught:
        client.invitations.cancel(invitation["id"])
    assert caught.value.code == "livemode_required"
    live_client.invitations.cancel(invitation["id"])
    assert invitation["id"] not in [i["id"] for i in live_client.invitations.list(status="pending")]


def test_audit_events_list_filter_and_retrieve(client: OpenPaaSClient) -> None:
    dataset = client.datasets.create(name=unique("audited"))
    events = client.audit_events.list(action="dataset.created", limit=5)
    newest = next(events)
    assert newest["action"] == "dataset.created" and newest["target"] == {"type": "dataset", "id": dataset["id"]}
    assert newest["credential"]["kind"] == "api_key"
    assert client.audit_events.retrieve(newest["id"]) == newest
    client.datasets.delete(dataset["id"])


def test_idempotency_key_is_sent_on_writes(client: OpenPaaSClient) -> None:
    # The platform accepts the header; replaying is the server's side (see test_real_oauth_jwt.py.pending).
    dataset = client.datasets.create(name=unique("keyed"), idempotency_key="sdk-test-" + secrets.token_hex(8))
    assert dataset["object"] == "dataset"
    client.datasets.delete(dataset["id"])


def test_ids_cannot_climb_to_other_routes(client: OpenPaaSClient) -> None:
    with pytest.raises(NotFoundError):
        client.connectors.retrieve("../api-keys")
    with pytest.raises(ValueError):
        client.connectors.retrieve("")

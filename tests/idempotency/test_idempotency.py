"""Idempotency-Key on POST: a retry with the same key and request replays the first answer, runs nothing
again, and never leaks across organizations or modes; misuse is a 400 or a 409 in the one error shape."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from accounts.models import APIKey
from audit.models import AuditEvent
from connectors.models import Connector, Dataset
from connectors.views import DatasetViewSet
from api import idempotency as store
from idempotency.models import IdempotencyKey
from tests.support.factories import make_api_key, make_dataset
from tests.idempotency.helpers import assert_error, assert_replay_of, claim_row, post
from tests.support.state import row_counts
from webhooks.models import WebhookEndpoint

CONNECTOR = {"name": "CRM", "type": "csv", "config": {"delimiter": ";"}}


# --- replay -------------------------------------------------------------------------------------------

def test_a_retry_with_the_same_key_replays_the_first_response_and_runs_nothing(tenant):
    client = tenant.client("developer")
    first = post(client, "/api/v1/connectors", CONNECTOR, key="order-1")
    assert first.status_code == 201, first.content
    before = row_counts()
    audit_events = AuditEvent.unscoped.count()

    replay = post(client, "/api/v1/connectors", CONNECTOR, key="order-1")

    assert_replay_of(replay, first)
    assert replay.json()["id"] == first.json()["id"]
    assert Connector.unscoped.count() == 1
    assert AuditEvent.unscoped.count() == audit_events
    assert row_counts() == before


def test_without_a_key_each_post_runs(tenant):
    client = tenant.client("developer")
    assert post(client, "/api/v1/connectors", CONNECTOR).status_code == 201
    assert post(client, "/api/v1/connectors", CONNECTOR).status_code == 201
    assert Connector.unscoped.count() == 2
    assert not IdempotencyKey.unscoped.exists()


def test_the_body_is_compared_as_json_not_as_bytes(tenant):
    client = tenant.client("developer")
    first = client.generic("POST", "/api/v1/datasets", b'{"name": "Leads", "description": "x"}',
                           content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert first.status_code == 201, first.content
    replay = client.generic("POST", "/api/v1/datasets", b'{\n  "description":"x",\n  "name":"Leads"\n}',
                            content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert_replay_of(replay, first)
    assert Dataset.unscoped.count() == 1


def test_another_credential_of_the_same_organization_and_mode_gets_the_replay(tenant):
    """Keys belong to the organization and mode, as Stripe scopes them to the account and mode."""
    first = post(tenant.client("developer"), "/api/v1/datasets", {"name": "Leads"}, key="k")
    replay = post(tenant.client("admin"), "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert_replay_of(replay, first)
    assert Dataset.unscoped.count() == 1


def test_a_caller_who_may_not_make_the_request_gets_no_replay(tenant):
    """Permissions are checked before the key is looked at: a Developer cannot read an Admin's new API
    key secret by replaying the Admin's key."""
    first = post(tenant.client("admin"), "/api/v1/api-keys", {"name": "Deploy", "scopes": ["connectors:read"]}, key="k")
    assert first.status_code == 201
    denied = post(tenant.client("developer"), "/api/v1/api-keys", {"name": "Deploy", "scopes": ["connectors:read"]}, key="k")
    assert denied.status_code == 403
    assert first.json()["secret"] not in denied.content.decode()
    assert not denied.has_header("Idempotent-Replayed")


# --- a key used for another request --------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [
    ("/api/v1/connectors", {**CONNECTOR, "name": "ERP"}),   # another body
    ("/api/v1/datasets", {"name": "CRM"}),                  # another path
])
def test_the_same_key_with_another_request_is_a_409_that_runs_nothing(tenant, path, body):
    client = tenant.client("developer")
    first = post(client, "/api/v1/connectors", CONNECTOR, key="order-1")
    before = row_counts()
    conflict = post(client, path, body, key="order-1")
    error = assert_error(conflict, 409, "idempotency_key_reused")
    assert "different request" in error["message"]
    assert row_counts() == before
    assert_replay_of(post(client, "/api/v1/connectors", CONNECTOR, key="order-1"), first)


def test_the_same_key_in_another_organization_or_mode_is_another_key(tenant, other_tenant):
    body = {"name": "Leads"}
    test_mode = post(tenant.client("developer"), "/api/v1/datasets", body, key="shared")
    live_mode = post(tenant.client("developer", livemode=True), "/api/v1/datasets", body, key="shared")
    other_org = post(other_tenant.client("developer"), "/api/v1/datasets", body, key="shared")
    # Even another body is not a conflict elsewhere: nothing of one scope is visible from another.
    other_body = post(other_tenant.client("developer", livemode=True), "/api/v1/datasets", {"name": "X"}, key="shared")
    responses = [test_mode, live_mode, other_org, other_body]
    assert [r.status_code for r in responses] == [201] * 4
    assert not any(r.has_header("Idempotent-Replayed") for r in responses)
    assert len({r.json()["id"] for r in responses}) == 4
    assert Dataset.unscoped.count() == 4
    assert IdempotencyKey.unscoped.filter(key="shared").count() == 4
    # and each replays its own
    assert_replay_of(post(tenant.client("admin", livemode=True), "/api/v1/datasets", body, key="shared"), live_mode)


# --- malformed keys ------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", [
    "", "x" * 256, "clé", "ключ", "a\tb", "a\nb", "a\x00b", "\x7f", "\x1b[31m", " leading", "trailing ", " ",
], ids=["empty", "256-chars", "latin-1", "cyrillic", "tab", "newline", "nul", "del", "escape", "leading-space",
        "trailing-space", "space"])
def test_a_malformed_key_is_a_400_that_runs_nothing(tenant, key):
    client = tenant.client("developer")
    before = row_counts()
    response = post(client, "/api/v1/datasets", {"name": "Leads"}, key=key)
    error = assert_error(response, 400, "idempotency_key_invalid")
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"}
    if key.strip():
        assert key not in error["message"], "the value sent is not repeated"
    assert row_counts() == before
    assert not IdempotencyKey.unscoped.exists()


@pytest.mark.parametrize("key", ["a", "x" * 255, "550e8400-e29b-41d4-a716-446655440000", "order 42/retry #1",
                                 "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"])
def test_printable_ascii_keys_of_1_to_255_characters_are_accepted(tenant, key):
    client = tenant.client("developer")
    first = post(client, "/api/v1/datasets", {"name": "Leads"}, key=key)
    assert first.status_code == 201, first.content
    assert_replay_of(post(client, "/api/v1/datasets", {"name": "Leads"}, key=key), first)


def test_get_patch_and_delete_ignore_the_header(tenant):
    client = tenant.client("developer")
    dataset = make_dataset(tenant)
    url = f"/api/v1/datasets/{dataset.pk}"
    assert client.get(url, HTTP_IDEMPOTENCY_KEY="\x00 not even valid").status_code == 200
    first = client.patch(url, {"name": "One"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    second = client.patch(url, {"name": "Two"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (first.status_code, second.status_code) == (200, 200)
    assert not second.has_header("Idempotent-Replayed") and second.json()["name"] == "Two"
    assert client.delete(url, HTTP_IDEMPOTENCY_KEY="k").status_code == 204
    assert not IdempotencyKey.unscoped.exists()


# --- which answers are kept ----------------------------------------------------------------------------

def test_a_validation_error_is_replayed_as_the_same_400(tenant):
    client = tenant.client("developer")
    first = post(client, "/api/v1/datasets", {"name": ["not", "a", "string"]}, key="k")
    assert first.status_code == 400
    assert first.json()["error"]["code"] == "parameter_invalid"
    replay = post(client, "/api/v1/datasets", {"name": ["not", "a", "string"]}, key="k")
    assert_replay_of(replay, first)
    # The body is the first one's, to the byte: it names the first request.
    assert replay.json()["error"]["request_id"] == first["X-Request-ID"]
    assert not Dataset.unscoped.exists()


def test_a_404_is_replayed(tenant):
    client = tenant.client("admin")
    first = post(client, "/api/v1/api-keys/key_doesnotexist/roll", {"expires_in": 60}, key="k")
    assert first.status_code == 404
    assert_replay_of(post(client, "/api/v1/api-keys/key_doesnotexist/roll", {"expires_in": 60}, key="k"), first)


def test_a_5xx_is_not_kept_and_a_retry_runs_again(tenant, monkeypatch):
    client = tenant.client("developer")
    client.raise_request_exception = False
    original = DatasetViewSet.create

    def explode(self, request, *args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(DatasetViewSet, "create", explode)
    failed = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert failed.status_code == 500
    assert failed.json()["error"]["code"] == "internal_error"
    assert not IdempotencyKey.unscoped.exists(), "the claim is released"

    monkeypatch.setattr(DatasetViewSet, "create", original)
    retry = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert retry.status_code == 201
    assert not retry.has_header("Idempotent-Replayed")
    assert Dataset.unscoped.count() == 1
    assert_replay_of(post(client, "/api/v1/datasets", {"name": "Leads"}, key="k"), retry)


def test_a_failure_after_the_write_leaves_neither_the_change_nor_a_record(tenant, monkeypatch):
    """The change, its audit event and the stored response share one transaction."""

    def record_then_fail(self, verb, instance, metadata=None):
        raise RuntimeError("audit log unavailable")

    client = tenant.client("developer")
    client.raise_request_exception = False
    before = row_counts()
    monkeypatch.setattr(DatasetViewSet, "record", record_then_fail)
    assert post(client, "/api/v1/datasets", {"name": "Leads"}, key="k").status_code == 500
    assert row_counts() == before
    assert not IdempotencyKey.unscoped.exists()


def test_a_failure_to_store_the_response_undoes_the_change(tenant, monkeypatch):
    def lost(self, response):
        raise store.IdempotencyKeyInUse()  # what settle() raises when the claim was taken over

    client = tenant.client("developer")
    before = row_counts()
    monkeypatch.setattr(store.Claim, "settle", lost)
    response = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert_error(response, 409, "idempotency_key_in_use")
    assert row_counts() == before


def test_a_409_from_the_view_is_not_kept(tenant):
    client = tenant.client("admin")
    api_key = make_api_key(tenant)
    assert client.post(f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": 60}, format="json").status_code == 201
    first = post(client, f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": 60}, key="k")
    assert_error(first, 409, "conflict")
    assert not IdempotencyKey.unscoped.exists()
    assert not post(client, f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": 60}, key="k").has_header("Idempotent-Replayed")


def test_401_403_and_429_claim_nothing(tenant, anon, settings):
    assert post(anon, "/api/v1/datasets", {"name": "x"}, key="k").status_code == 401
    assert post(tenant.client("viewer"), "/api/v1/datasets", {"name": "x"}, key="k").status_code == 403
    assert not IdempotencyKey.unscoped.exists()

    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"credential": "1/min", "organization": "1000/min"}}
    client = tenant.client("developer")
    assert post(client, "/api/v1/datasets", {"name": "x"}, key="first").status_code == 201
    throttled = post(client, "/api/v1/datasets", {"name": "x"}, key="second")
    assert throttled.status_code == 429
    assert list(IdempotencyKey.unscoped.values_list("key", flat=True)) == ["first"]


def test_a_post_to_a_route_that_does_not_serve_post_is_a_405_whatever_the_key(tenant):
    client = tenant.client("admin")
    response = post(client, "/api/v1/audit-events", {}, key="\x00")
    assert response.status_code == 405
    assert not IdempotencyKey.unscoped.exists()


def test_a_malformed_body_is_refused_before_the_key_is_claimed(tenant):
    client = tenant.client("developer")
    response = client.generic("POST", "/api/v1/datasets", b'{"name": ', content_type="application/json",
                              HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert not IdempotencyKey.unscoped.exists()


# --- concurrency ---------------------------------------------------------------------------------------

def test_a_key_whose_request_is_still_running_is_a_409_in_use(tenant):
    claim = claim_row(tenant, "k", "POST", "/api/v1/datasets", {"name": "Leads"})
    client = tenant.client("developer")
    before = row_counts()
    response = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert_error(response, 409, "idempotency_key_in_use")
    assert row_counts() == before
    claim.refresh_from_db()
    assert claim.claim_token == "someone-else" and not claim.completed, "the 409 leaves the claim alone"
    # Another request under the same key is a reuse, whether or not the first has finished.
    assert_error(post(client, "/api/v1/datasets", {"name": "Other"}, key="k"), 409, "idempotency_key_reused")


def test_a_claim_whose_request_died_is_taken_over_after_the_lock_timeout(tenant, settings):
    settings.OPENPAAS_IDEMPOTENCY_LOCK_SECONDS = 30
    stale = timezone.now() - timedelta(seconds=31)
    claim_row(tenant, "k", "POST", "/api/v1/datasets", {"name": "Leads"}, claimed_at=stale, created_at=stale)
    client = tenant.client("developer")
    first = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert first.status_code == 201 and not first.has_header("Idempotent-Replayed")
    assert_replay_of(post(client, "/api/v1/datasets", {"name": "Leads"}, key="k"), first)
    assert Dataset.unscoped.count() == 1


def test_a_request_whose_claim_was_taken_over_rolls_back_and_records_nothing(tenant, monkeypatch):
    """The slow request finishes after another took its (stale) claim over: its change must not commit."""
    client = tenant.client("developer")
    original = DatasetViewSet.create

    def slow_create(self, request, *args, **kwargs):
        response = original(self, request, *args, **kwargs)
        # Meanwhile another request took the claim over: the token in the row is no longer this one's.
        self._idempotency_claim.token = "taken-over-by-another-request"
        return response

    monkeypatch.setattr(DatasetViewSet, "create", slow_create)
    before = row_counts()
    response = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert_error(response, 409, "idempotency_key_in_use")
    assert row_counts() == before
    row = IdempotencyKey.unscoped.get()
    assert not row.completed, "nothing recorded, and the other request's claim is not released"


# --- secrets in stored responses -----------------------------------------------------------------------

def raw_idempotency_rows():
    table = IdempotencyKey._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # nosec B608: a model's table name
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


@pytest.mark.parametrize("path,body,secret_field", [
    ("/api/v1/api-keys", {"name": "Deploy", "scopes": ["connectors:read"]}, "secret"),
    ("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/new", "events": ["*"]}, "secret"),
])
def test_a_replayed_creation_returns_the_same_secret_which_is_stored_encrypted(tenant, path, body, secret_field):
    client = tenant.client("admin")
    first = post(client, path, body, key="k")
    assert first.status_code == 201, first.content
    secret = first.json()[secret_field]
    replay = post(client, path, body, key="k")
    assert_replay_of(replay, first)
    assert replay.json()[secret_field] == secret

    raw = raw_idempotency_rows()
    assert first.json()["id"] in IdempotencyKey.unscoped.get().response_body  # decrypted through the model
    for leak in (secret, secret[8:], secret[-20:], first.json()["id"]):
        assert leak not in raw, "the stored response is encrypted at rest"
    assert "ek1$" in raw


def test_a_replayed_roll_returns_the_same_new_key_and_rolls_once(tenant):
    client = tenant.client("admin")
    api_key = make_api_key(tenant)
    first = post(client, f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": 60}, key="roll-1")
    assert first.status_code == 201
    keys_before = APIKey.unscoped.count()
    replay = post(client, f"/api/v1/api-keys/{api_key.pk}/roll", {"expires_in": 60}, key="roll-1")
    assert_replay_of(replay, first)
    assert replay.json()["secret"] == first.json()["secret"]
    assert APIKey.unscoped.count() == keys_before
    assert AuditEvent.unscoped.filter(action="api_key.rolled").count() == 1
    assert first.json()["secret"] not in raw_idempotency_rows()


def test_webhook_signing_secret_is_not_in_the_database_in_clear(tenant):
    client = tenant.client("developer")
    first = post(client, "/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/a", "events": ["*"]}, key="w")
    assert WebhookEndpoint.unscoped.count() == 1
    assert first.json()["secret"].startswith("whsec_")
    assert "whsec_" not in raw_idempotency_rows()


# --- expiry --------------------------------------------------------------------------------------------

def age(hours):
    IdempotencyKey.unscoped.update(created_at=timezone.now() - timedelta(hours=hours))


def test_a_record_older_than_24_hours_is_ignored(tenant):
    client = tenant.client("developer")
    first = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    age(23.9)
    assert_replay_of(post(client, "/api/v1/datasets", {"name": "Leads"}, key="k"), first)
    age(24.1)
    again = post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    assert again.status_code == 201 and not again.has_header("Idempotent-Replayed")
    assert again.json()["id"] != first.json()["id"]
    assert Dataset.unscoped.count() == 2
    assert IdempotencyKey.unscoped.count() == 1, "the expired record was replaced"
    assert_replay_of(post(client, "/api/v1/datasets", {"name": "Leads"}, key="k"), again)


def test_an_expired_key_may_be_used_for_another_request(tenant):
    client = tenant.client("developer")
    post(client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    age(25)
    assert post(client, "/api/v1/datasets", {"name": "Other"}, key="k").status_code == 201


def test_the_cleanup_command_deletes_expired_records_in_batches(tenant, other_tenant):
    client = tenant.client("developer")
    for index in range(5):
        assert post(client, "/api/v1/datasets", {"name": f"D{index}"}, key=f"old-{index}").status_code == 201
    age(25)
    assert post(other_tenant.client("developer"), "/api/v1/datasets", {"name": "New"}, key="fresh").status_code == 201
    stdout = StringIO()
    call_command("clear_idempotency_keys", batch_size=2, stdout=stdout)
    assert "Deleted 5 expired idempotency keys." in stdout.getvalue()
    assert list(IdempotencyKey.unscoped.values_list("key", flat=True)) == ["fresh"]
    assert Dataset.unscoped.count() == 6, "only the records go, never the objects they created"
    stdout = StringIO()
    call_command("clear_idempotency_keys", stdout=stdout)
    assert "Deleted 0 expired idempotency keys." in stdout.getvalue()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_one_key_run_the_view_once(tenant, monkeypatch):
    """Real concurrency, committed transactions: the second request arrives while the first is inside
    the view, and is told the key is in use; once the first has finished, the retry gets its answer."""
    import threading

    entered, proceed = threading.Event(), threading.Event()
    original = DatasetViewSet.create

    def slow_create(self, request, *args, **kwargs):
        entered.set()
        assert proceed.wait(20), "the test never let the first request go on"
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(DatasetViewSet, "create", slow_create)
    first_client, second_client = tenant.client("developer"), tenant.client("developer")
    # The second key's last use is written now, not while the first request holds SQLite's one write lock
    # (a writer would wait for it, and the first request waits for this test).
    assert second_client.get("/api/v1/datasets").status_code == 200
    results = {}

    def first_request():
        try:
            results["first"] = post(first_client, "/api/v1/datasets", {"name": "Leads"}, key="k")
        finally:
            connection.close()

    thread = threading.Thread(target=first_request)
    thread.start()
    try:
        assert entered.wait(20), "the first request did not reach the view"
        second = post(second_client, "/api/v1/datasets", {"name": "Leads"}, key="k")
    finally:
        proceed.set()
        thread.join(30)
    assert_error(second, 409, "idempotency_key_in_use")
    first = results["first"]
    assert first.status_code == 201, first.content
    assert_replay_of(post(second_client, "/api/v1/datasets", {"name": "Leads"}, key="k"), first)
    assert Dataset.unscoped.count() == 1


def test_a_claim_inserted_between_lookup_and_insert_is_found_on_the_unique_constraint(tenant, monkeypatch):
    """The race the unique constraint settles: the lookup saw no row, another request inserted one, and
    this insert fails; the key is then looked up again and found in use."""
    from django.db.models import QuerySet

    claim_row(tenant, "k", "POST", "/api/v1/datasets", {"name": "Leads"})
    real_first, calls = QuerySet.first, []

    def first_misses_once(queryset):
        calls.append(queryset.model)
        if queryset.model is IdempotencyKey and calls.count(IdempotencyKey) == 1:
            return None
        return real_first(queryset)

    monkeypatch.setattr(QuerySet, "first", first_misses_once)
    with pytest.raises(store.IdempotencyKeyInUse):
        store.begin(organization_id=tenant.org.pk, livemode=False, key="k",
                    request_fingerprint=store.fingerprint("POST", "/api/v1/datasets", store.canonical_body({"name": "Leads"})))
    assert calls.count(IdempotencyKey) == 2
    assert IdempotencyKey.unscoped.count() == 1


def test_a_response_the_view_returns_that_is_not_kept_commits_the_change_and_releases_the_key(tenant, monkeypatch):
    from rest_framework.response import Response

    original = DatasetViewSet.create

    def create_then_503(self, request, *args, **kwargs):
        original(self, request, *args, **kwargs)
        return Response({"error": "try later"}, status=503)

    monkeypatch.setattr(DatasetViewSet, "create", create_then_503)
    client = tenant.client("developer")
    assert post(client, "/api/v1/datasets", {"name": "Leads"}, key="k").status_code == 503
    assert Dataset.unscoped.count() == 1, "the view returned normally: its change stands"
    assert not IdempotencyKey.unscoped.exists()
    assert post(client, "/api/v1/datasets", {"name": "Leads"}, key="k").status_code == 503
    assert Dataset.unscoped.count() == 2

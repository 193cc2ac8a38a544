from api import idempotency as store
from idempotency.models import IdempotencyKey

ERROR_KEYS = {"type", "code", "message", "request_id"}


def post(client, url, body, key=None, **extra):
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post(url, body, format="json", **extra)


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert ERROR_KEYS <= set(error)
    assert (error["type"], error["code"]) == ("invalid_request_error", code), error
    assert error["request_id"] == response["X-Request-ID"]
    return error


def assert_replay_of(replay, first):
    assert replay.status_code == first.status_code
    assert replay.content == first.content
    assert replay["Content-Type"] == first["Content-Type"]
    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Original-Request"] == first["X-Request-ID"]
    assert replay["X-Request-ID"] != first["X-Request-ID"], "a replay is a request of its own"
    assert not first.has_header("Idempotent-Replayed")


def claim_row(tenant, key, method, path, body, livemode=False, **fields):
    """A row as a request in flight leaves it: claimed, no response yet."""
    values = {"claim_token": "someone-else", "claimed_at": None, "request_id": "req_inflight"}
    values.update(fields)
    row = IdempotencyKey(organization=tenant.org, livemode=livemode, key=key,
                         request_fingerprint=store.fingerprint(method, path, store.canonical_body(body)), **values)
    if row.claimed_at is None:
        row.claimed_at = row.created_at
    row.save()
    return row

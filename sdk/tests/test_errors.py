"""Every exception type, from the real platform's answers (and a closed port for connection errors)."""

from __future__ import annotations

import time

import pytest

import openpaas_sdk.client
from openpaas_sdk import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    ConflictError,
    NotFoundError,
    OpenPaaSClient,
    OpenPaaSError,
    PermissionDeniedError,
    RateLimitError,
    ValidationError,
)
from servers import Platform, free_port


def test_401_for_a_mistyped_key(platform: Platform) -> None:
    with OpenPaaSClient(api_key="sk_test_" + "0" * 49, base_url=platform.base_url) as client:
        with pytest.raises(AuthenticationError) as caught:
            client.me()
    error = caught.value
    # 49 zeros are the right shape, but the last 6 are not the checksum of the 43 before them
    assert error.status == 401 and error.code == "api_key_checksum_invalid" and error.type == "authentication_error"
    assert error.doc_url and error.doc_url.endswith("/docs/errors#api_key_checksum_invalid")
    assert error.request_id and error.request_id.startswith("req_")
    assert "Invalid API key" in error.message and error.request_id in str(error)


def test_403_names_the_missing_scope_for_a_read_only_key(client: OpenPaaSClient, live_client: OpenPaaSClient,
                                                         platform: Platform) -> None:
    # A Viewer's scopes (connectors:read, data:read), held by a Service member: people join by
    # invitation, which the API does not offer, so this is the API's way to a read-only key.
    viewer = live_client.members.create(role="service", name="viewer-like", scopes=["connectors:read", "data:read"])
    key = client.api_keys.create(name="read only", member=viewer["id"], scopes=["connectors:read", "data:read"])
    with OpenPaaSClient(api_key=key["secret"], base_url=platform.base_url) as reader:
        assert isinstance(list(reader.connectors.list()), list)  # reading is allowed
        with pytest.raises(PermissionDeniedError) as caught:
            reader.connectors.create(name="nope", type="http", config={"base_url": "https://x.example"})
        assert caught.value.status == 403 and caught.value.code == "missing_scope"
        assert caught.value.required_scope == "connectors:write"
        with pytest.raises(PermissionDeniedError) as caught:
            list(reader.audit_events.list())
        assert caught.value.required_scope == "audit:read"
    live_client.members.delete(viewer["id"])


def test_404_for_a_missing_object(client: OpenPaaSClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.workflows.retrieve("wf_doesnotexist")
    assert caught.value.status == 404 and caught.value.code == "resource_missing"
    assert caught.value.param == "id" and "wf_doesnotexist" in caught.value.message
    assert caught.value.doc_url and caught.value.doc_url.endswith("/docs/errors#resource_missing")


def test_400_carries_field_details(client: OpenPaaSClient) -> None:
    with pytest.raises(ValidationError) as caught:
        client.datasets.create(name="bad", livemode=True, colour="blue")
    error = caught.value
    assert error.status == 400 and error.code == "parameter_invalid" and error.type == "invalid_request_error"
    assert error.details == {"colour": ["Unknown field."], "livemode": ["This field cannot be set."]}
    with pytest.raises(ValidationError) as caught:
        client.connectors.create(name="bad", type="http", config={"base_url": "http://plain.example"})
    assert caught.value.details == {"config": {"base_url": ["Must be an https URL."]}}
    with pytest.raises(ValidationError) as caught:
        list(client.connectors.list(limit=1000))
    assert "limit" in caught.value.details


def test_409_when_removing_the_last_admin(live_client: OpenPaaSClient) -> None:
    me = live_client.me()
    with pytest.raises(ConflictError) as caught:
        live_client.members.delete(me["member"]["id"])
    assert caught.value.status == 409 and "at least one Admin" in caught.value.message
    with pytest.raises(ConflictError):
        live_client.members.update(me["member"]["id"], role="developer")
    assert live_client.me()["role"] == "admin"


def test_other_statuses_are_api_errors(client: OpenPaaSClient) -> None:
    with pytest.raises(APIError) as caught:  # PUT is not served: 405
        client.request("PUT", "/connectors/conn_x", json={})
    assert caught.value.status == 405 and isinstance(caught.value, OpenPaaSError)


def test_429_with_retry_after_when_retries_are_off(client: OpenPaaSClient, rate_limited_platform: Platform) -> None:
    key = client.api_keys.create(name="burst", scopes=["connectors:read"])["secret"]
    with OpenPaaSClient(api_key=key, base_url=rate_limited_platform.base_url, max_retries=0) as burst:
        with pytest.raises(RateLimitError) as caught:
            for _ in range(10):
                burst.me()
    error = caught.value
    assert error.status == 429 and error.code == "rate_limited" and error.type == "rate_limit_error"
    assert error.retry_after is not None and 1 <= error.retry_after <= 2


def test_429_is_retried_after_retry_after(client: OpenPaaSClient, rate_limited_platform: Platform,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    key = client.api_keys.create(name="patient", scopes=["connectors:read"])["secret"]
    waited: list[float] = []

    def sleep(seconds: float) -> None:
        waited.append(seconds)
        time.sleep(seconds)

    monkeypatch.setattr(openpaas_sdk.client, "_sleep", sleep)
    with OpenPaaSClient(api_key=key, base_url=rate_limited_platform.base_url, max_retries=3) as patient:
        for _ in range(4):  # twice the budget of 2/s: the SDK waits out the window instead of failing
            assert patient.me()["scopes"] == ["connectors:read"]
    assert waited and all(seconds >= 1 for seconds in waited)


def test_connection_refused_is_an_api_connection_error(sleeps: list[float]) -> None:
    port = free_port()  # nothing listens there
    with OpenPaaSClient(api_key="sk_test_x", base_url=f"http://127.0.0.1:{port}", max_retries=2) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.me()
    assert caught.value.status is None and "ConnectError" in str(caught.value)
    assert len(sleeps) == 2  # retried twice before giving up

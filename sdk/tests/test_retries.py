"""Retries, against a scripted local server that answers 5xx/429 before succeeding: which methods are
retried, how long the SDK waits, and that a retried write keeps its Idempotency-Key."""

from __future__ import annotations

import uuid

import httpx
import pytest

import openpaas_sdk.client
from openpaas_sdk import APIConnectionError, APIError, OpenPaaSClient, RateLimitError, ValidationError
from servers import error_body, local_server, scripted

OK = (200, {}, {"id": "ds_1", "object": "dataset"})
UNAVAILABLE = (503, {}, error_body(503, "unavailable"))


def test_post_is_retried_with_the_same_idempotency_key(sleeps: list[float]) -> None:
    with local_server(scripted(UNAVAILABLE, UNAVAILABLE, OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            assert client.datasets.create(name="d") == OK[2]
    assert [r.method for r in server.requests] == ["POST"] * 3
    keys = {r.headers["idempotency-key"] for r in server.requests}
    assert len(keys) == 1
    assert uuid.UUID(keys.pop()).version == 4
    assert all(r.json() == {"name": "d"} for r in server.requests)
    assert len(sleeps) == 2


def test_each_call_gets_its_own_key(sleeps: list[float]) -> None:
    with local_server(scripted(OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            client.datasets.create(name="a")
            client.datasets.create(name="b")
            client.datasets.update("ds_1", name="c")
    keys = [r.headers["idempotency-key"] for r in server.requests]
    assert len(set(keys)) == 3 and server.requests[2].method == "PATCH"


def test_a_given_idempotency_key_is_used(sleeps: list[float]) -> None:
    with local_server(scripted(UNAVAILABLE, OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            client.datasets.records("ds_1").append([{"a": 1}], idempotency_key="batch-2026-11-29")
    assert [r.headers["idempotency-key"] for r in server.requests] == ["batch-2026-11-29"] * 2


def test_patch_is_retried_with_its_key(sleeps: list[float]) -> None:
    with local_server(scripted((502, {}, b"<html>bad gateway</html>"), OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            client.connectors.update("conn_1", name="n")
    assert [r.method for r in server.requests] == ["PATCH", "PATCH"]
    assert server.requests[0].headers["idempotency-key"] == server.requests[1].headers["idempotency-key"]


@pytest.mark.parametrize("call", [
    lambda c: c.connectors.retrieve("conn_1"),
    lambda c: c.connectors.delete("conn_1"),
    lambda c: list(c.connectors.list()),
])
def test_reads_and_deletes_are_retried_without_a_key(call: object, sleeps: list[float]) -> None:
    ok_list = (200, {}, {"object": "list", "data": [], "has_more": False, "next_cursor": None})
    with local_server(scripted(UNAVAILABLE, (500, {}, error_body(500, "internal_error")), ok_list)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            call(client)  # type: ignore[operator]
    assert len(server.requests) == 3
    assert all("idempotency-key" not in r.headers for r in server.requests)


def test_retries_give_up_after_max_retries(sleeps: list[float]) -> None:
    with local_server(scripted(UNAVAILABLE)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, max_retries=2) as client:
            with pytest.raises(APIError) as caught:
                client.me()
    assert caught.value.status == 503 and caught.value.code == "unavailable"
    assert caught.value.request_id == "req_local"
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_max_retries_zero_sends_once(sleeps: list[float]) -> None:
    with local_server(scripted(UNAVAILABLE, OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, max_retries=0) as client:
            with pytest.raises(APIError):
                client.datasets.create(name="d")
    assert len(server.requests) == 1 and sleeps == []


def test_client_errors_are_not_retried(sleeps: list[float]) -> None:
    with local_server(scripted((400, {}, error_body(400, "parameter_invalid", details={"name": ["Required."]})))) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            with pytest.raises(ValidationError) as caught:
                client.datasets.create()
    assert caught.value.details == {"name": ["Required."]}
    assert len(server.requests) == 1 and sleeps == []


def test_backoff_is_exponential_with_full_jitter(sleeps: list[float]) -> None:
    with local_server(scripted(UNAVAILABLE)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, max_retries=5) as client:
            with pytest.raises(APIError):
                client.me()
    caps = [min(openpaas_sdk.client.MAX_DELAY, openpaas_sdk.client.INITIAL_DELAY * 2 ** n) for n in range(5)]
    assert len(sleeps) == 5 and all(0 <= s <= cap for s, cap in zip(sleeps, caps))
    draws = [openpaas_sdk.client.backoff_delay(3) for _ in range(200)]
    assert max(draws) > 2.0 and min(draws) < 2.0, "full jitter spreads over [0, cap]"


def test_retry_after_is_honoured(sleeps: list[float]) -> None:
    limited = (429, {"Retry-After": "3"}, error_body(429, "rate_limited"))
    with local_server(scripted(limited, OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            client.datasets.create(name="d")
    assert sleeps == [3.0]


def test_a_long_retry_after_is_not_waited_for(sleeps: list[float]) -> None:
    limited = (429, {"Retry-After": "3600"}, error_body(429, "rate_limited"))
    with local_server(scripted(limited, OK)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            with pytest.raises(RateLimitError) as caught:
                client.me()
    assert caught.value.retry_after == 3600 and sleeps == [] and len(server.requests) == 1


def test_timeouts_are_connection_errors_and_retried(sleeps: list[float]) -> None:
    import time

    def slow(_: object) -> tuple[int, dict[str, str], object]:
        time.sleep(0.5)
        return OK

    with local_server(slow) as server:  # type: ignore[arg-type]
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url, timeout=0.1, max_retries=1) as client:
            with pytest.raises(APIConnectionError) as caught:
                client.datasets.create(name="d")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(server.requests) == 2
    assert server.requests[0].headers["idempotency-key"] == server.requests[1].headers["idempotency-key"]


def test_a_success_body_that_is_not_json_is_an_api_error() -> None:
    with local_server(scripted((200, {}, b"<html>hello</html>"))) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            with pytest.raises(APIError, match="not JSON"):
                client.me()


def test_has_more_without_a_cursor_does_not_loop_forever() -> None:
    broken = (200, {}, {"object": "list", "data": [{"id": "a"}], "has_more": True, "next_cursor": None})
    with local_server(scripted(broken)) as server:
        with OpenPaaSClient(api_key="sk_test_x", base_url=server.url) as client:
            pages = client.connectors.list()
            assert next(pages) == {"id": "a"}
            with pytest.raises(APIError, match="next_cursor"):
                next(pages)

"""openpaas_sdk.webhooks: the Standard Webhooks scheme."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest

from openpaas_sdk import ConfigurationError, WebhookVerificationError, webhooks

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
BODY = json.dumps({"type": "connector.created", "timestamp": "2026-11-29T12:00:00Z", "data": {"id": "conn_1"}})


def test_known_answer_from_the_specification() -> None:
    # The Standard Webhooks reference libraries' test vector.
    headers = webhooks.sign('{"test": 2432232314}', "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                            msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp=1614265330)
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_round_trip_returns_the_payload() -> None:
    headers = webhooks.sign(BODY, SECRET)
    assert headers["webhook-id"].startswith("msg_")
    assert webhooks.verify(BODY, headers, SECRET) == json.loads(BODY)
    assert webhooks.verify(BODY.encode(), headers, SECRET) == json.loads(BODY)


def test_header_names_are_case_insensitive() -> None:
    headers = {name.title(): value for name, value in webhooks.sign(BODY, SECRET).items()}
    assert "Webhook-Signature" in headers
    assert webhooks.verify(BODY, headers, SECRET)["data"] == {"id": "conn_1"}


def test_secret_without_prefix_works_too() -> None:
    headers = webhooks.sign(BODY, SECRET)
    assert webhooks.verify(BODY, headers, SECRET.removeprefix("whsec_"))


def test_tampered_body_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET)
    with pytest.raises(WebhookVerificationError, match="No webhook signature matches"):
        webhooks.verify(BODY.replace("conn_1", "conn_2"), headers, SECRET)


def test_reserialized_json_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(json.dumps(json.loads(BODY), indent=2), headers, SECRET)


def test_wrong_secret_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, other)


def test_changed_id_or_timestamp_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, {**headers, "webhook-id": "msg_other"}, SECRET)
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}, SECRET)


def test_stale_timestamp_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET, timestamp=int(time.time()) - 301)
    with pytest.raises(WebhookVerificationError, match="old"):
        webhooks.verify(BODY, headers, SECRET)
    # inside a wider tolerance it passes
    assert webhooks.verify(BODY, headers, SECRET, tolerance=600)


def test_future_timestamp_is_refused() -> None:
    headers = webhooks.sign(BODY, SECRET, timestamp=int(time.time()) + 301)
    with pytest.raises(WebhookVerificationError, match="future"):
        webhooks.verify(BODY, headers, SECRET)


def test_any_of_several_signatures_passes() -> None:
    # During a secret rotation the sender signs with both secrets; other versions are ignored.
    old = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    headers = webhooks.sign(BODY, SECRET, msg_id="msg_1", timestamp=int(time.time()))
    with_old = webhooks.sign(BODY, old, msg_id="msg_1", timestamp=int(headers["webhook-timestamp"]))
    headers["webhook-signature"] = " ".join([
        "v1a,bm90IG91cnM=", with_old["webhook-signature"], "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
        headers["webhook-signature"],
    ])
    assert webhooks.verify(BODY, headers, SECRET)
    assert webhooks.verify(BODY, headers, old)
    third = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, third)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    headers = webhooks.sign(BODY, SECRET)
    del headers[missing]
    with pytest.raises(WebhookVerificationError, match=missing):
        webhooks.verify(BODY, headers, SECRET)


@pytest.mark.parametrize("timestamp", ["soon", "1.5e9", "-1", ""])
def test_malformed_timestamp_is_refused(timestamp: str) -> None:
    headers = {**webhooks.sign(BODY, SECRET), "webhook-timestamp": timestamp}
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, SECRET)


def test_malformed_signature_entries_are_refused_not_crashing() -> None:
    headers = {**webhooks.sign(BODY, SECRET), "webhook-signature": "garbage v1 v1, v1,é"}
    with pytest.raises(WebhookVerificationError):
        webhooks.verify(BODY, headers, SECRET)


def test_signed_non_json_is_refused() -> None:
    with pytest.raises(WebhookVerificationError, match="not JSON"):
        webhooks.verify("not json", webhooks.sign("not json", SECRET), SECRET)


def test_bad_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        webhooks.verify(BODY, webhooks.sign(BODY, SECRET), "whsec_not base64!")

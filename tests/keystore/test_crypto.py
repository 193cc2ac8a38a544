"""Secrets at rest: AES-256-GCM with versioned, key-named ciphertexts."""

import base64
import os
import stat

import pytest
from django.db import connection

from keystore import crypto
from keystore.crypto import DecryptionError
from tests.support.factories import make_connector, make_webhook_endpoint

CANARY = "canary-7f3a9e-credential"


def dump_database():
    """Every stored value of every table, as a database dump would hold it."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # table names from introspection
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_connector_credentials_and_webhook_secrets_are_not_in_a_database_dump(tenant):
    client = tenant.client("admin")
    client.post("/api/v1/connectors", {"name": "db", "type": "postgresql",
                                       "config": {"host": "db.example.com", "database": "app", "user": "etl"},
                                       "credentials": {"password": CANARY}}, format="json")
    endpoint = client.post("/api/v1/webhook-endpoints", {"url": "https://h.example.com", "events": ["*"]}, format="json").json()
    dump = dump_database()
    assert "db.example.com" in dump, "the dump sees the connector's public config"
    assert CANARY not in dump
    assert endpoint["secret"] not in dump
    assert endpoint["secret"][len("whsec_"):] not in dump
    assert f"{crypto.FORMAT_VERSION}$" in dump


def test_the_model_reads_back_what_was_written(tenant):
    connector = make_connector(tenant, credentials={"token": CANARY})
    connector.refresh_from_db()
    assert connector.credentials == {"token": CANARY}


def test_ciphertexts_name_their_format_and_key():
    token = crypto.encrypt(b"hello", context="test.Model.field")
    version, key_id, _ = token.split("$")
    assert version == "ek1" and key_id == crypto.keyring()[0]
    assert crypto.decrypt(token, context="test.Model.field") == b"hello"


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_one_flipped_byte_fails_decryption(position):
    token = crypto.encrypt(b"secret value", context="ctx")
    version, key_id, body = token.split("$")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[position] ^= 0x01
    tampered = f"{version}${key_id}${base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"
    with pytest.raises(DecryptionError):
        crypto.decrypt(tampered, context="ctx")


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(tenant):
    connector = make_connector(tenant, credentials={"token": CANARY})
    stolen = type(connector).unscoped.filter(pk=connector.pk).values_list("credentials", flat=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM connectors_connector WHERE id = %s", [connector.pk])
        ciphertext = cursor.fetchone()[0]
    assert list(stolen) == [{"token": CANARY}]
    with pytest.raises(DecryptionError):
        crypto.decrypt(ciphertext, context="webhooks.WebhookEndpoint.secret")


@pytest.mark.parametrize("token", ["plain", "ek1$x", "ek2$mk$abc", "ek1$mk000000000000$abc", "ek1${kid}$!!!"])
def test_garbage_is_a_decryption_error_not_a_crash(token):
    with pytest.raises(DecryptionError):
        crypto.decrypt(token.format(kid=crypto.keyring()[0]), context="ctx")


def test_no_nonce_repeats_in_100000_encryptions():
    nonces = set()
    for _ in range(100_000):
        body = crypto.encrypt(b"x", context="ctx").split("$")[2]
        nonces.add(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))[: crypto.NONCE_BYTES])
    assert len(nonces) == 100_000


def test_after_a_new_key_takes_over_old_ciphertexts_still_decrypt(settings):
    old, new = crypto.generate_key_text(), crypto.generate_key_text()
    settings.OPENPAAS_MASTER_KEY = old
    before = crypto.encrypt(b"kept", context="ctx")
    settings.OPENPAAS_MASTER_KEY = f"{new},{old}"
    after = crypto.encrypt(b"new", context="ctx")
    assert before.split("$")[1] != after.split("$")[1]
    assert crypto.decrypt(before, context="ctx") == b"kept"
    settings.OPENPAAS_MASTER_KEY = new
    with pytest.raises(DecryptionError):
        crypto.decrypt(before, context="ctx")


def test_a_missing_key_file_is_generated_private(settings, tmp_path):
    settings.OPENPAAS_MASTER_KEY = None
    settings.OPENPAAS_KEY_FILE = tmp_path / "keys" / "master.key"
    token = crypto.encrypt(b"x", context="ctx")
    assert stat.S_IMODE(os.stat(settings.OPENPAAS_KEY_FILE).st_mode) == 0o600
    assert crypto.decrypt(token, context="ctx") == b"x"
    assert len(base64.urlsafe_b64decode(settings.OPENPAAS_KEY_FILE.read_text().strip() + "=")) == 32


@pytest.mark.parametrize("bad", ["short", base64.urlsafe_b64encode(b"x" * 16).decode()])
def test_a_master_key_that_is_not_256_bits_is_refused(settings, bad):
    from django.core.exceptions import ImproperlyConfigured

    settings.OPENPAAS_MASTER_KEY = bad
    with pytest.raises(ImproperlyConfigured):
        crypto.encrypt(b"x", context="ctx")


def test_webhook_secrets_follow_the_standard_webhooks_format(tenant):
    endpoint = make_webhook_endpoint(tenant)
    endpoint.refresh_from_db()
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret[len("whsec_"):])) == 32

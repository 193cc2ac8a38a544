"""The architecture's import rules (.importlinter): the suite fails on a new violation."""

import importlib
import pkgutil
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

import audit
import keystore
import webhooks

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(ROOT / ".importlinter"), no_cache=True) == 0  # its report says which import broke which rule


@pytest.mark.parametrize("app", ["accounts", "connectors", "webhooks"])
def test_each_app_registers_its_own_audit_actions(app):
    module = importlib.import_module(f"{app}.audit_actions")
    assert module.__name__ in {m.name for m in pkgutil.iter_modules([str(ROOT / app)], f"{app}.")}
    source = (ROOT / "audit" / "actions.py").read_text()
    assert 'register("' not in source and "register_crud(\"" not in source  # the audit app names no other app's action


def test_keystore_seals_a_value_for_one_organization_and_context():
    token = keystore.encrypt_for("org_a", b"s3cret", context="tests.value")
    assert b"s3cret" not in token.encode()
    assert keystore.decrypt_for("org_a", token, context="tests.value") == b"s3cret"
    with pytest.raises(keystore.DecryptionError):
        keystore.decrypt_for("org_b", token, context="tests.value")  # another organization's row
    with pytest.raises(keystore.DecryptionError):
        keystore.decrypt_for("org_a", token, context="tests.other")


def test_webhooks_emit_exists_and_refuses_to_pretend_it_delivered():
    with pytest.raises(webhooks.NotYetDelivered):
        webhooks.emit("connector.created", organization="org_a", livemode=False, data={"id": "con_1"})
    with pytest.raises(ValueError):
        webhooks.emit("no.such_event", organization="org_a", livemode=False, data={})


def test_audit_record_is_the_recorder_the_framework_calls(settings):
    from core import events

    assert settings.OPENPAAS_AUDIT_RECORDER == "audit.record"
    assert events._recorder() is audit.record


@pytest.mark.parametrize("organization", [None, "", "mem_123", 42, object()], ids=["none", "empty", "a member id", "a number", "an object"])
def test_keystore_refuses_to_seal_for_anything_but_an_organization(organization):
    with pytest.raises(ValueError):
        keystore.encrypt_for(organization, b"s3cret", context="tests.value")

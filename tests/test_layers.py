"""The architecture's import rules (.importlinter): the suite fails on a new violation."""

import ast
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


def _registered_in(path):
    """The action names a module registers (audit.register / audit.register_crud calls), read from its source."""
    names = set()
    for call in ast.walk(ast.parse(path.read_text())):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.args:
            name = call.args[0].value
            if call.func.attr == "register":
                names.add(name)
            elif call.func.attr == "register_crud":
                names.update(f"{name}.{verb}" for verb in ("created", "updated", "deleted"))
    return names


def test_every_audit_action_is_registered_by_the_app_it_belongs_to():
    from audit.actions import ACTION_NAMES, ACTIONS

    by_app = {app: _registered_in(ROOT / app / "audit_actions.py") for app in ("accounts", "connectors", "webhooks")}
    assert set().union(*by_app.values()) == set(ACTIONS)  # none registered anywhere else (audit/actions.py names none)
    assert sum(len(names) for names in by_app.values()) == len(ACTIONS)  # and none twice
    assert {"connector.created", "dataset.records_appended"} <= by_app["connectors"]
    assert by_app["webhooks"] == {"webhook_endpoint.created", "webhook_endpoint.updated", "webhook_endpoint.deleted"}
    assert ACTION_NAMES == sorted(ACTIONS)  # the API's ?action= enum holds every one


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

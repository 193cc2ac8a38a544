"""Headers that carry a credential (Authorization, Cookie, X-Api-Key, ...) were accepted in an HTTP
connector's ``config``, which is stored in clear and shown to anyone who may read connectors. They move,
with their values, into the connector's ``credentials.headers`` (encrypted, never shown), so the
connector keeps working and the secret is no longer on any page or response. Not reversed: putting a
secret back in clear is not something to automate."""

from django.db import migrations

from connectors.types import carries_credential


def move_credential_headers(apps, schema_editor):
    Connector = apps.get_model("connectors", "Connector")
    for connector in Connector._base_manager.filter(type="http").iterator(chunk_size=500):
        # Rows the API could not have written (written to the database directly) are left as they are.
        config, credentials = connector.config or {}, connector.credentials or {}
        if not isinstance(config, dict) or not isinstance(credentials, dict):
            continue
        headers = config.get("headers") or {}
        if not isinstance(headers, dict) or not isinstance(credentials.get("headers") or {}, dict):
            continue
        secret = {name: value for name, value in headers.items() if carries_credential(name, value)}
        if not secret:
            continue
        credentials = dict(credentials)
        # A header already in the credentials was set there on purpose: it wins over the one in config.
        credentials["headers"] = {**secret, **(credentials.get("headers") or {})}
        config = {**connector.config, "headers": {n: v for n, v in headers.items() if n not in secret}}
        # update(), not save(): the connector's settings did not change, so neither does updated_at.
        Connector._base_manager.filter(pk=connector.pk).update(config=config, credentials=credentials)


class Migration(migrations.Migration):

    dependencies = [("connectors", "0001_initial")]

    operations = [migrations.RunPython(move_credential_headers, migrations.RunPython.noop, elidable=True)]

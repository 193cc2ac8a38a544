"""An HTTP connector's ``config`` (stored in clear, shown to anyone who may read connectors) now refuses more
credentials: headers such as X-AppKey, X-Passcode or valued ``ghp_...`` (the wider rule), and credentials in
``base_url``. Connectors saved before move theirs into their encrypted ``credentials``, as 0002 did:

- headers, by 0002's move under the wider rule;
- a user name and password in ``base_url`` become ``credentials.headers["Authorization"] = "Basic ..."``
  (what an HTTP client sends for them), unless the credentials already say how to authenticate (a token
  or an Authorization header), which wins as in 0002;
- query parameters named like a credential (``api_key=...``) move to ``credentials.query`` (one already
  there wins).

A key elsewhere in the URL (in its path, say) has nowhere to go without changing the URL: such a connector
is left as it is, and a change to its ``config`` is refused until the key is taken out. Not reversed:
putting a secret back in clear is not something to automate."""

import base64
import importlib
import re
from urllib.parse import unquote, urlsplit, urlunsplit

from django.db import migrations

from core.credentials import is_credential_name

move_credential_headers = importlib.import_module("connectors.migrations.0002_move_credential_headers").move_credential_headers


def split_url_credentials(url):
    """(the URL without its user name, password and credential query parameters, the Basic credentials or
    None, the credential query parameters). The rest of the URL keeps its spelling."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    basic = None
    if at:
        user, _, password = userinfo.partition(":")
        basic = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    kept, moved = [], {}
    for piece in re.split(r"[&;]", parts.query) if parts.query else []:  # ';' separates for many servers
        name, _, value = piece.partition("=")
        if is_credential_name(unquote(name.replace("+", " "))):
            moved[unquote(name.replace("+", " "))] = unquote(value.replace("+", " "))
        else:
            kept.append(piece)
    return urlunsplit(parts._replace(netloc=host, query="&".join(kept))), basic, moved


def move_url_credentials(apps, schema_editor):
    move_credential_headers(apps, schema_editor)
    Connector = apps.get_model("connectors", "Connector")
    for connector in Connector.objects.filter(type="http").iterator(chunk_size=500):
        # Rows the API could not have written (written to the database directly) are left as they are.
        config, credentials = connector.config or {}, connector.credentials or {}
        if not isinstance(config, dict) or not isinstance(credentials, dict):
            continue
        url = config.get("base_url")
        if not isinstance(url, str) or not all(isinstance(credentials.get(name) or {}, dict) for name in ("headers", "query")):
            continue
        try:
            clean_url, basic, query = split_url_credentials(url)
        except ValueError:  # not a URL urlsplit can read
            continue
        if clean_url == url:
            continue
        credentials = dict(credentials)
        headers = dict(credentials.get("headers") or {})
        authenticates = credentials.get("token") or any(name.lower() == "authorization" for name in headers)
        if basic and not authenticates:
            credentials["headers"] = {**headers, "Authorization": f"Basic {basic}"}
        if query:
            credentials["query"] = {**query, **(credentials.get("query") or {})}
        # update(), not save(): the connector's settings did not change, so neither does updated_at.
        Connector.objects.filter(pk=connector.pk).update(config={**config, "base_url": clean_url},
                                                         credentials=credentials or None)


class Migration(migrations.Migration):

    dependencies = [("connectors", "0003_workflow_connector_restrict")]

    operations = [migrations.RunPython(move_url_credentials, migrations.RunPython.noop, elidable=True)]

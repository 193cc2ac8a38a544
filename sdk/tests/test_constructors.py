"""Construction: one credential of three kinds, or the environment; nothing else."""

from __future__ import annotations

import pytest

from openpaas_sdk import ConfigurationError, OpenPaaSClient
from servers import Platform, local_server, scripted


def test_api_key_client_reaches_the_platform(platform: Platform) -> None:
    with OpenPaaSClient(api_key=platform.test_key, base_url=platform.base_url) as client:
        me = client.me()
    assert me["object"] == "principal"
    assert me["role"] == "admin"
    assert me["livemode"] is False
    assert me["credential"]["kind"] == "api_key"
    assert client.credential_kind == "api_key"


def test_live_key_is_live_mode(platform: Platform) -> None:
    with OpenPaaSClient(platform.live_key, base_url=platform.base_url) as client:
        assert client.me()["livemode"] is True


def test_environment_supplies_key_and_base_url(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENPAAS_API_KEY", platform.test_key)
    monkeypatch.setenv("OPENPAAS_BASE_URL", platform.base_url)
    with OpenPaaSClient() as client:
        assert client.base_url == platform.base_url
        assert client.me()["organization"]["id"] == platform.org["organization"]


def test_no_credential_anywhere_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENPAAS_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="OPENPAAS_API_KEY"):
        OpenPaaSClient()


def test_default_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENPAAS_BASE_URL", raising=False)
    assert OpenPaaSClient(api_key="sk_test_x").base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize("kwargs", [
    {"api_key": "sk_test_x", "jwt_token": "a.b.c"},
    {"api_key": "sk_test_x", "oauth_config": {"client_id": "c", "client_secret": "s"}},
    {"oauth_config": {"client_id": "c", "client_secret": "s"}, "jwt_token": "a.b.c"},
])
def test_two_credentials_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match="exactly one credential"):
        OpenPaaSClient(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("kwargs, message", [
    ({"api_key": "sk_test_x", "base_url": "http://api.example.com"}, "plain http"),
    ({"api_key": "sk_test_x", "base_url": "ftp://127.0.0.1"}, "http"),
    ({"api_key": "sk_test_x", "base_url": "https://api.example.com/?key=1"}, "query"),
    ({"api_key": "sk_test_x", "max_retries": -1}, "max_retries"),
    ({"api_key": "sk_test_x", "timeout": 0}, "timeout"),
    ({"api_key": "sk test x"}, "api_key"),
    ({"api_key": ""}, "api_key"),
    ({"jwt_refresh_token": "r"}, "jwt_token"),
    ({"oauth_config": {"client_secret": "s"}}, "client_id"),
    ({"oauth_config": {"client_id": "c"}}, "client_secret"),
    ({"oauth_config": {"client_id": "c", "clientsecret": "s"}}, "Unknown oauth_config"),
    ({"api_key": "sk_test_x", "pinned_public_keys": ["sha256/" + "A" * 43 + "="]}, "https"),
])
def test_bad_configuration_is_refused_at_construction(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        OpenPaaSClient(**kwargs)  # type: ignore[arg-type]


def test_base_url_may_name_the_api_root() -> None:
    assert OpenPaaSClient(api_key="sk_test_x", base_url="https://api.example.com/api/v1/").base_url == "https://api.example.com"


def test_repr_never_shows_the_key() -> None:
    key = "sk_live_" + "A" * 49
    shown = repr(OpenPaaSClient(api_key=key, base_url="https://api.example.com"))
    assert key not in shown and "AAAA" in shown and "sk_live_" in shown


def test_api_key_travels_only_in_the_authorization_header() -> None:
    key = "sk_test_" + "k" * 49
    with local_server(scripted((200, {}, {"object": "list", "data": [], "has_more": False, "next_cursor": None}))) as server:
        with OpenPaaSClient(api_key=key, base_url=server.url) as client:
            list(client.connectors.list(limit=5))
    (request,) = server.requests
    assert request.headers["authorization"] == f"Bearer {key}"
    assert key not in request.path
    assert request.path.startswith("/api/v1/connectors?") and "limit=5" in request.path
    assert request.headers["user-agent"].startswith("openpaas-python/")


def test_jwt_token_is_sent_as_the_bearer() -> None:
    with local_server(scripted((200, {}, {"object": "principal"}))) as server:
        with OpenPaaSClient(jwt_token="eyJhbGciOiJIUzI1NiIs.e30.sig", base_url=server.url) as client:
            assert client.me() == {"object": "principal"}
            assert client.credential_kind == "jwt"
    assert server.requests[0].headers["authorization"] == "Bearer eyJhbGciOiJIUzI1NiIs.e30.sig"


def test_oauth_config_picks_its_grant() -> None:
    machine = OpenPaaSClient(oauth_config={"client_id": "c", "client_secret": "s"})
    person = OpenPaaSClient(oauth_config={"client_id": "c", "client_secret": "s", "redirect_uri": "https://app.example/cb"})
    assert machine.credential_kind == person.credential_kind == "oauth"
    url, state = person.authorization_url()
    assert url.startswith("http://127.0.0.1:8000/oauth/authorize/?") and state in url
    with pytest.raises(ConfigurationError, match="redirect_uri"):
        machine.authorization_url()

"""Helpers shared by the connectors, workflows and datasets tests."""

from dataclasses import dataclass

from rest_framework.test import APIClient

from accounts.auth import keys
from accounts.models import APIKey
from tests.conftest import api_client


@dataclass
class KeyedClient:
    """An API client together with the key and member behind it, to check what the audit log names."""

    client: APIClient
    api_key: APIKey

    def __getattr__(self, name):  # get, post, patch, delete, ...
        return getattr(self.client, name)


def keyed_client(tenant, role="developer", livemode=False):
    secret = tenant.key(role, livemode)
    api_key = APIKey.unscoped.get(prefix=keys.parse(secret).prefix, digest=keys.parse(secret).digest)
    return KeyedClient(api_client(secret), api_key)

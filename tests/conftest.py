"""Shared fixtures: organizations with members of each role, their keys, and an API client per key.

    tenant = make_tenant("Acme")
    client = tenant.client("developer")            # a Developer's test-mode key
    client = tenant.client("admin", livemode=True)  # an Admin's live key
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import credential_cache, scopes as scope_registry
from accounts.models import Member, Organization, User
from accounts.services import create_api_key

# The Service member of every test tenant holds these two scopes.
SERVICE_GRANT = ["connectors:read", "data:read"]


class Tenant:
    """An organization with one member per role, created on first use."""

    def __init__(self, name):
        self.org = Organization.objects.create(name=name)
        self._members = {}

    def member(self, role="admin"):
        if role not in self._members:
            if role == scope_registry.SERVICE:
                member = Member.objects.create(organization=self.org, role=role, name=f"{self.org.name} service",
                                               granted_scopes=SERVICE_GRANT)
            else:
                user = User.objects.create_user(email=f"{role}@{self.org.id.lower()}.example", password=None)
                member = Member.objects.create(organization=self.org, user=user, role=role)
            self._members[role] = member
        return self._members[role]

    def key(self, role="admin", livemode=False, scopes=None, **kwargs):
        """A new key's secret; by default with every scope the member's role allows."""
        member = self.member(role)
        if scopes is None:
            scopes = sorted(member.max_scopes())
        _, secret = create_api_key(member=member, livemode=livemode, name=f"{role} key", scopes=scopes, **kwargs)
        return secret

    def client(self, role="admin", livemode=False, scopes=None):
        return api_client(self.key(role, livemode, scopes))


def api_client(secret=None):
    client = APIClient()
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture(autouse=True)
def _isolated_cache_and_generous_rates(settings):
    # Rate-limit counters live in the cache; each test starts from zero and well under the limits,
    # except the tests that set their own rates.
    cache.clear()
    credential_cache.store.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"credential": "100000/s", "organization": "100000/s"},
    }
    yield
    cache.clear()
    credential_cache.store.clear()


@pytest.fixture
def make_tenant(db):
    return Tenant


@pytest.fixture
def tenant(make_tenant):
    return make_tenant("Acme")


@pytest.fixture
def other_tenant(make_tenant):
    return make_tenant("Globex")


@pytest.fixture
def anon():
    return APIClient()

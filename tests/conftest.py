"""Shared fixtures: organizations with members of each role, their keys, and an API client per key.

    tenant = make_tenant("Acme")
    client = tenant.client("developer")            # a Developer's test-mode key
    client = tenant.client("admin", livemode=True)  # an Admin's live key
    client = tenant.client("viewer", kind="jwt")     # the same through a JWT (or kind="oauth")
"""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import AccessToken, set_token_value
from rest_framework.test import APIClient

from accounts.auth import credential_cache
from core import scopes as scope_registry
from accounts.auth.jwt import issue_tokens
from accounts.models import Member, OAuthApplication, Organization, User
from accounts.auth.oauth import new_access_token
from accounts.actions.api_keys import create_api_key

# Every way in: the tables of permissions and isolation run with each.
CREDENTIAL_KINDS = ("api_key", "oauth", "jwt")

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
                member = Member.unscoped.create(organization=self.org, role=role, name=f"{self.org.name} service",
                                               granted_scopes=SERVICE_GRANT)
            else:
                user = User.objects.create_user(email=f"{role}@{self.org.id.lower().replace('_', '-')}.example", password=None)
                member = Member.unscoped.create(organization=self.org, user=user, role=role)
            self._members[role] = member
        return self._members[role]

    def key(self, role="admin", livemode=False, scopes=None, **kwargs):
        """A new key's secret; by default with every scope the member's role allows."""
        member = self.member(role)
        if scopes is None:
            scopes = sorted(member.max_scopes())
        _, secret = create_api_key(member=member, livemode=livemode, name=f"{role} key", scopes=scopes, **kwargs)
        return secret

    def oauth_token(self, role="admin", livemode=False, scopes=None):
        """An OAuth access token as the member of ``role`` (client credentials for the Service member,
        an authorization-code token for a person), issued directly by the token model."""
        member = self.member(role)
        if scopes is None:
            scopes = sorted(member.max_scopes())
        person = member.user_id is not None
        application = OAuthApplication.unscoped.create(
            organization=self.org, livemode=livemode, name=f"{role} app", client_type="confidential",
            grant_types=["authorization-code" if person else "client-credentials"],
            authorization_grant_type="authorization-code" if person else "client-credentials",
            redirect_uris="https://app.example.com/cb", allowed_scopes=sorted(scope_registry.SCOPES),
            service_member=None if person else member, client_secret="unused",
        )
        raw = new_access_token()
        token = AccessToken(user=member.user, application=application, scope=" ".join(scopes),
                            expires=timezone.now() + timedelta(hours=1))
        set_token_value(token, raw)
        token.save()
        return raw

    def jwt_token(self, role="admin", livemode=False, scopes=None):
        """A JWT access token of a new session of the person of ``role``."""
        access, _ = issue_tokens(self.member(role), livemode=livemode, scopes=scopes)
        return access

    def credential(self, role="admin", livemode=False, scopes=None, kind="api_key"):
        issue = {"api_key": self.key, "oauth": self.oauth_token, "jwt": self.jwt_token}[kind]
        return issue(role, livemode, scopes)

    def client(self, role="admin", livemode=False, scopes=None, kind="api_key"):
        return api_client(self.credential(role, livemode, scopes, kind))


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
        "DEFAULT_THROTTLE_RATES": {"credential": "100000/s", "organization": "100000/s", "sign_in": "100000/s"},
    }
    yield
    cache.clear()
    credential_cache.store.clear()


@pytest.fixture
def credential_cache_on(settings):
    """Resolved credentials kept in the process, as in production with Redis (tests/accounts/
    test_credential_cache.py): use with transaction=True, so that changes commit and reach it."""
    settings.OPENPAAS_CREDENTIAL_CACHE_SECONDS = 60


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

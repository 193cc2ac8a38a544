"""Factories: one saved object of a tenant (tests/conftest.py's Tenant), in a mode, made as the platform
makes it. The resource registry (tests/resources.py) names one per resource; tests of any folder use them.
"""

from datetime import timedelta

from axes.models import AccessAttempt
from django.db import transaction
from django.utils import timezone

import audit
from accounts.actions import reviews
from accounts.models import Member
from core.ids import new_id
from accounts.actions.invitations import invite
from core.principal import session_principal
from accounts.actions.api_keys import create_api_key
from accounts.actions.oauth_applications import create_oauth_application
from connectors.models import Connector, Dataset, Workflow
from connectors.records import append_records
from webhooks.models import WebhookEndpoint, new_signing_secret


def make_connector(tenant, livemode=False, **fields):
    values = {"name": "Billing API", "type": "http", "config": {"base_url": "https://billing.example.com", "headers": {}},
              "credentials": {"token": "tok_canary_connector"}}
    values.update(fields)
    return Connector.unscoped.create(organization=tenant.org, livemode=livemode, **values)


def make_workflow(tenant, livemode=False):
    return Workflow.unscoped.create(organization=tenant.org, livemode=livemode, name="Nightly",
                                   connector=make_connector(tenant, livemode),
                                   steps=[{"type": "select", "fields": ["id"]}])


def make_dataset(tenant, livemode=False):
    dataset = Dataset.unscoped.create(organization=tenant.org, livemode=livemode, name="Invoices")
    with transaction.atomic():
        append_records(dataset, [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}])
    return dataset


def make_webhook_endpoint(tenant, livemode=False):
    return WebhookEndpoint.unscoped.create(organization=tenant.org, livemode=livemode, url="https://hooks.example.com/in",
                                          events=["connector.created"], secret=new_signing_secret())


def make_api_key(tenant, livemode=False):
    api_key, _ = create_api_key(member=tenant.member("developer"), livemode=livemode, name="CI",
                                scopes=["connectors:read"])
    return api_key


def make_member(tenant, livemode=False):
    return Member.unscoped.create(organization=tenant.org, role="service", name="ETL",
                                 granted_scopes=["connectors:read"])


def make_oauth_application(tenant, livemode=False, client_credentials=False):
    """With client credentials the application has a Service member, which only live mode (or the console)
    may change: the route tables use one without."""
    grant_types = ["authorization-code"] + (["client-credentials"] if client_credentials else [])
    application, _ = create_oauth_application(
        principal=None, organization=tenant.org, livemode=livemode, name="Partner portal", client_type="confidential",
        grant_types=grant_types, redirect_uris=["https://partner.example.com/callback"],
        allowed_scopes=["connectors:read"])
    return application


def make_invitation(tenant, livemode=False):
    return invite(principal=session_principal(tenant.member("admin")), email=f"invitee-{new_id('x').lower()}@example.com",
                  role="developer")


def make_audit_event(tenant, livemode=False):
    with transaction.atomic():
        return audit.record("dataset.created", organization=tenant.org, livemode=livemode,
                            target=Dataset(id="ds_x", organization=tenant.org, livemode=livemode))


def make_access_review(tenant, livemode=False):
    return reviews.start(organization=tenant.org, started_by=tenant.member("admin"),
                         due_date=timezone.localdate() + timedelta(days=7))


def make_access_attempt(tenant, livemode=False):
    """Failed sign-ins of one of the tenant's members (as django-axes records them)."""
    return AccessAttempt.objects.create(
        username=tenant.member("viewer").user.email, ip_address="203.0.113.7", user_agent="curl/8",
        get_data="", post_data="", http_accept="*/*", path_info="/login", failures_since_start=5,
        attempt_time=timezone.now())

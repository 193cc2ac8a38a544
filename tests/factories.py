"""One factory per API resource (by router basename), and a valid request body per route and method,
shared by the permission table and the isolation suite. A new resource adds a line to each."""

from django.db import transaction

import audit
from accounts.models import Member
from core.ids import new_id
from accounts.actions.invitations import invite
from core.principal import session_principal
from accounts.actions.services import create_api_key, create_oauth_application
from connectors.models import Connector, Dataset, Workflow
from connectors.records import append_records
from webhooks.models import WebhookEndpoint, new_signing_secret


def make_connector(tenant, livemode=False, **fields):
    values = {"name": "Billing API", "type": "http", "config": {"base_url": "https://billing.example.com", "headers": {}},
              "credentials": {"token": "tok_canary_connector"}}
    values.update(fields)
    return Connector.objects.create(organization=tenant.org, livemode=livemode, **values)


def make_workflow(tenant, livemode=False):
    return Workflow.objects.create(organization=tenant.org, livemode=livemode, name="Nightly",
                                   connector=make_connector(tenant, livemode),
                                   steps=[{"type": "select", "fields": ["id"]}])


def make_dataset(tenant, livemode=False):
    dataset = Dataset.objects.create(organization=tenant.org, livemode=livemode, name="Invoices")
    with transaction.atomic():
        append_records(dataset, [{"id": 1, "amount": 10}, {"id": 2, "amount": 20}])
    return dataset


def make_webhook_endpoint(tenant, livemode=False):
    return WebhookEndpoint.objects.create(organization=tenant.org, livemode=livemode, url="https://hooks.example.com/in",
                                          events=["connector.created"], secret=new_signing_secret())


def make_api_key(tenant, livemode=False):
    api_key, _ = create_api_key(member=tenant.member("developer"), livemode=livemode, name="CI",
                                scopes=["connectors:read"])
    return api_key


def make_member(tenant, livemode=False):
    return Member.objects.create(organization=tenant.org, role="service", name="ETL",
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


FACTORIES = {
    "connector": make_connector,
    "workflow": make_workflow,
    "dataset": make_dataset,
    "webhook-endpoint": make_webhook_endpoint,
    "api-key": make_api_key,
    "member": make_member,
    "audit-event": make_audit_event,
    "oauth-application": make_oauth_application,
    "invitation": make_invitation,
}


def valid_body(route_name, method, tenant, livemode=False):
    """A request body that succeeds for a caller who holds the route's scope (for the public sign-in
    routes: a well-formed body, whose credentials are wrong)."""
    basename = route_name.rsplit("-", 1)[0]
    if method == "POST":
        return {
            "connector-list": lambda: {"name": "CRM", "type": "csv", "config": {"delimiter": ";"}},
            "workflow-list": lambda: {"name": "Sync", "connector": make_connector(tenant, livemode).id,
                                      "steps": [{"type": "mask", "fields": ["email"]}]},
            "dataset-list": lambda: {"name": "Leads"},
            "dataset-records": lambda: {"records": [{"id": 3}]},
            "webhook-endpoint-list": lambda: {"url": "https://hooks.example.com/new", "events": ["*"]},
            "api-key-list": lambda: {"name": "Deploy", "scopes": ["connectors:read"]},
            "api-key-roll": lambda: {"expires_in": 60},
            "invitation-resend": lambda: {},
            "auth-token": lambda: {"email": "nobody@example.com", "password": "not the password", "organization": tenant.org.id},
            "auth-token-refresh": lambda: {"refresh": "not.a.token"},
            "auth-token-revoke": lambda: {"refresh": "not.a.token"},
            "member-list": lambda: {"role": "service", "name": "Importer", "scopes": ["data:read"]},
            "oauth-application-list": lambda: {"name": "CLI", "client_type": "public", "grant_types": ["authorization-code"],
                                               "redirect_uris": ["https://cli.example.com/cb"], "allowed_scopes": ["data:read"]},
        }[route_name]()
    if method == "PATCH":
        return {
            "connector": {"name": "Renamed"},
            "workflow": {"name": "Renamed"},
            "dataset": {"name": "Renamed"},
            "webhook-endpoint": {"description": "Renamed"},
            "member": {"name": "Renamed"},
            "oauth-application": {"name": "Renamed"},
        }[basename]
    return None


def snapshot(instance):
    """The stored state of an object, to show a refused request changed nothing."""
    return type(instance)._default_manager.filter(pk=instance.pk).values().first()

"""No page of the console shows a secret: not a key's secret or digest, not an OAuth client's secret or
its hash, not a webhook signing secret, not a connector's credentials (nor their ciphertext), not an
invitation link's digest, not a second factor's secret or backup codes, not a password hash, not what
django-axes kept of a request. Every page is opened, by an organization's Admin and by platform staff."""

import re
from base64 import b32encode
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.utils import quote
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.actions import mfa, reviews
from accounts.models import APIKey, AuthenticatorDevice, BackupCodeDevice, Invitation, OAuthApplication, User
from accounts.actions.api_keys import create_api_key
from accounts.actions.oauth_applications import create_oauth_application
from console.site import site
from connectors.models import Connector
from tests.admin.conftest import confirm_sudo
from tests.support.factories import make_connector, make_invitation, make_webhook_endpoint, make_workflow
from webhooks.models import WebhookEndpoint, new_signing_secret


def raw_column(model, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608 (test's own names)
        return cursor.fetchone()[0]


@pytest.fixture
def canaries(tenant, org_admin, staff):
    """Every kind of secret the platform keeps, in the tenant the Admin administers."""
    values = {}
    connector = make_connector(tenant, credentials={"token": "tok_canary_connector", "password": "pw-canary-9f3k"})
    make_workflow(tenant)
    values["connector token"] = "tok_canary_connector"
    values["connector password"] = "pw-canary-9f3k"
    values["connector ciphertext"] = raw_column(Connector, "credentials", connector.pk)
    endpoint = make_webhook_endpoint(tenant)
    endpoint.previous_secret = new_signing_secret()
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=1)
    endpoint.save()
    values["webhook secret"] = endpoint.secret
    values["previous webhook secret"] = endpoint.previous_secret
    values["webhook secret body"] = endpoint.secret.removeprefix("whsec_")
    values["webhook ciphertext"] = raw_column(WebhookEndpoint, "secret", endpoint.pk)
    api_key, secret = create_api_key(member=tenant.member("developer"), livemode=True, name="Prod", scopes=["data:read"])
    values["key secret"] = secret
    values["key digest"] = api_key.digest
    values["key random part"] = secret[len(api_key.prefix):-4]
    application, client_secret = create_oauth_application(
        organization=tenant.org, livemode=False, name="Portal", client_type="confidential",
        grant_types=["client-credentials"], redirect_uris=[], allowed_scopes=["data:read"])
    values["client secret"] = client_secret
    values["client secret hash"] = OAuthApplication.unscoped.get(pk=application.pk).client_secret
    invitation = make_invitation(tenant)
    values["invitation digest"] = Invitation.unscoped.get(pk=invitation.pk).token_digest
    user = org_admin.member.user
    device = AuthenticatorDevice.objects.get(user=user)
    values["totp secret"] = device.key
    values["totp secret base32"] = b32encode(device.bin_key).decode()
    values["totp ciphertext"] = raw_column(AuthenticatorDevice, "key", device.pk)
    codes = mfa.replace_backup_codes(user)
    backup = BackupCodeDevice.objects.get(user=user)
    values["backup code"] = codes[0]
    values["backup code digest"] = backup.code_digests[0]
    values["backup code salt"] = backup.salt
    values["password hash"] = User.objects.get(pk=user.pk).password
    values["staff password hash"] = User.objects.get(pk=staff.user.pk).password
    AccessAttempt.objects.create(
        username=tenant.member("viewer").user.email, ip_address="203.0.113.7", user_agent="curl/8",
        get_data="", post_data="email=viewer&password=axes-canary-hunter2", http_accept="*/*", path_info="/login",
        failures_since_start=5, attempt_time=timezone.now())
    values["axes post data"] = "axes-canary-hunter2"
    reviews.start(organization=tenant.org, started_by=tenant.member("admin"), due_date=timezone.localdate())
    return values


def console_pages(model_admin):
    """Every page of every object of one ModelAdmin, its list and its add form."""
    model = model_admin.model
    info = model._meta.app_label, model._meta.model_name
    yield reverse("admin:%s_%s_changelist" % info)
    yield reverse("admin:%s_%s_add" % info)
    for obj in model._base_manager.all():
        for name in ("change", "delete", "history"):
            yield reverse(f"admin:%s_%s_{name}" % info, args=[quote(obj.pk)])
        for action in model_admin.object_actions:
            if not action.download:
                yield reverse(f"admin:%s_%s_{action.name}" % info, args=[quote(obj.pk)])


@pytest.mark.parametrize("who", ["org_admin", "staff"])
def test_no_console_page_shows_a_secret(canaries, who, request):
    browser = request.getfixturevalue(who)
    confirm_sudo(browser)
    pages = ["/admin/", "/admin/accounts/", "/admin/audit/auditevent/?q=key"]
    for model_admin in site._registry.values():
        pages += list(console_pages(model_admin))
    opened = 0
    for page in pages:
        response = browser.get(page)
        assert response.status_code in (200, 302, 403, 404), (page, response.status_code)
        opened += response.status_code == 200
        body = response.content.decode()
        leaked = [name for name, value in canaries.items() if value and value in body]
        assert not leaked, (page, leaked)
    assert opened > 40, "the pages were really opened"


def test_a_new_keys_secret_is_on_its_creation_page_only(org_admin, tenant):
    confirm_sudo(org_admin)
    developer = tenant.member("developer")
    page = org_admin.post("/admin/accounts/apikey/add/", {"member": developer.pk, "name": "Once", "scopes": ["data:read"],
                                                          "expires_at_0": "", "expires_at_1": ""}).content.decode()
    api_key = APIKey.unscoped.get(name="Once")
    secret = re.search(r"\bsk_(?:live|test)_[0-9A-Za-z]{49}\b", page).group(0)
    assert secret.startswith(api_key.prefix) and api_key.digest not in page
    # Not kept anywhere to be shown again: not in the session, not in a cookie (a message's storage).
    assert secret not in str(dict(org_admin.session))
    assert not any(api_key.prefix in morsel.value for morsel in org_admin.cookies.values())
    assert secret not in org_admin.get("/admin/accounts/apikey/").content.decode()

"""Changes made in the console go through the API's services: the same rules, the same audit events,
and sudo for the sensitive ones (a role, a new or rolled key, the two-factor policy)."""

import re
from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core import mail
from django.test import RequestFactory
from django.utils import timezone

from accounts.actions.api_keys import roll_api_key
from core.sudo import SUDO_AT
from accounts.models import APIKey, Invitation, Member, OAuthApplication
from audit.models import AuditEvent
from console.site import site
from connectors.models import Connector
from tests.admin.conftest import confirm_sudo, html
from tests.support.console import admin_url
from tests.resources import ADMIN_OBJECTS
from tests.conftest import api_client
from tests.support.factories import make_connector, make_webhook_endpoint, make_workflow

KEY = re.compile(r"\bsk_(?:live|test)_[0-9A-Za-z]{49}\b")


def by_console(event, admin_member):
    """The event was made by this Admin in a browser session, as the API records a session's changes."""
    return (event.actor_type, event.actor_id, event.credential_kind) == ("member", admin_member.id, "session")


# Members and roles


def test_a_role_change_needs_sudo_then_is_audited_like_the_api(org_admin, tenant):
    developer = tenant.member("developer")
    change = admin_url(developer, "change")
    refused = org_admin.post(change, {"role": "viewer", "name": ""})
    assert refused.status_code == 302 and refused["Location"].startswith("/account/sudo?next=")
    developer.refresh_from_db()
    assert developer.role == "developer"
    assert not AuditEvent.unscoped.filter(action="member.role_changed").exists()

    confirm_sudo(org_admin)
    response = org_admin.post(change, {"role": "viewer", "name": ""})
    assert response.status_code == 302 and response["Location"] == "/admin/accounts/member/"
    developer.refresh_from_db()
    assert developer.role == "viewer"
    event = AuditEvent.unscoped.get(action="member.role_changed", target_id=developer.id)
    assert event.metadata == {"from": "developer", "to": "viewer"}
    assert by_console(event, org_admin.member)


def test_sudo_is_asked_again_after_ten_minutes(org_admin, tenant, settings):
    settings.OPENPAAS_SUDO_SECONDS = 0
    confirm_sudo(org_admin)
    developer = tenant.member("developer")
    response = org_admin.post(admin_url(developer, "change"), {"role": "admin", "name": ""})
    assert response["Location"].startswith("/account/sudo?")
    developer.refresh_from_db()
    assert developer.role == "developer"


def test_a_name_change_needs_no_sudo_and_is_audited(org_admin, tenant):
    developer = tenant.member("developer")
    response = org_admin.post(admin_url(developer, "change"), {"role": "developer", "name": "Dev"})
    assert response.status_code == 302
    event = AuditEvent.unscoped.get(action="member.updated", target_id=developer.id)
    assert event.metadata == {"name": "Dev"} and by_console(event, org_admin.member)


def test_the_last_admin_cannot_be_demoted_from_the_console(org_admin):
    confirm_sudo(org_admin)
    me = org_admin.member
    response = org_admin.post(admin_url(me, "change"), {"role": "viewer", "name": ""})
    assert response.status_code == 200 and "at least one Admin" in response.content.decode()
    me.refresh_from_db()
    assert me.role == "admin"


def test_a_person_cannot_be_made_a_service_member(org_admin, tenant):
    confirm_sudo(org_admin)
    developer = tenant.member("developer")
    response = org_admin.post(admin_url(developer, "change"), {"role": "service", "name": ""})
    assert response.status_code == 200
    developer.refresh_from_db()
    assert developer.role == "developer"


def test_removing_a_member_goes_through_the_service(org_admin, tenant):
    developer = tenant.member("developer")
    secret = tenant.key("developer")
    page = html(org_admin.get(admin_url(developer, "delete")))
    assert "developer key" in page, "the keys that go with the member are listed (masked)"
    response = org_admin.post(admin_url(developer, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert not Member.unscoped.filter(pk=developer.pk).exists()
    event = AuditEvent.unscoped.get(action="member.removed", target_id=developer.id)
    assert by_console(event, org_admin.member) and len(event.metadata["api_keys"]) == 1
    assert api_client(secret).get("/api/v1/me").status_code == 401


def test_the_last_admin_cannot_be_removed_from_the_console(org_admin):
    me = org_admin.member
    response = org_admin.post(admin_url(me, "delete"), {"post": "yes"})
    assert response.status_code == 302
    assert Member.unscoped.filter(pk=me.pk).exists()
    assert "at least one Admin" in html(org_admin.get(response["Location"]))


def test_a_service_members_granted_scopes_change_needs_sudo_then_is_audited(org_admin, tenant):
    service = tenant.member("service")
    change = admin_url(service, "change")
    form = {"name": service.name, "granted_scopes": ["connectors:read", "connectors:write", "data:read"]}
    refused = org_admin.post(change, form)
    assert refused.status_code == 302 and refused["Location"].startswith("/account/sudo?next=")
    service.refresh_from_db()
    assert service.granted_scopes == ["connectors:read", "data:read"]
    assert not AuditEvent.unscoped.filter(action="member.updated").exists()

    assert org_admin.post(change, {**form, "granted_scopes": service.granted_scopes, "name": "ETL"}).status_code == 302
    assert Member.unscoped.get(pk=service.pk).name == "ETL", "a change of name alone needs no sudo"
    confirm_sudo(org_admin)
    assert org_admin.post(change, {**form, "name": "ETL"}).status_code == 302
    service.refresh_from_db()
    assert service.granted_scopes == ["connectors:read", "connectors:write", "data:read"]
    event = AuditEvent.unscoped.filter(action="member.updated", target_id=service.id).latest("created_at")
    assert event.metadata == {"granted_scopes": service.granted_scopes} and by_console(event, org_admin.member)


def _old_admin_and_selected(tenant, admin_member, *roles):
    """The ids of ``admin_member`` and of the members of ``roles``, the Admin made the oldest, so that the
    list's order (newest first) deletes the others before it."""
    Member.unscoped.filter(pk=admin_member.pk).update(created_at=timezone.now() - timedelta(days=30))
    return [tenant.member(role).pk for role in roles] + [admin_member.pk]


def test_deleting_selected_members_is_all_or_nothing(org_admin, tenant):
    selected = _old_admin_and_selected(tenant, org_admin.member, "viewer", "developer")
    response = org_admin.post("/admin/accounts/member/", {"action": "delete_selected", "_selected_action": selected,
                                                          "post": "yes"})
    assert response.status_code == 302
    assert "at least one Admin" in html(org_admin.get(response["Location"]))
    assert Member.unscoped.filter(pk__in=selected).count() == 3, "the viewer's removal is undone too"
    assert not AuditEvent.unscoped.filter(action="member.removed").exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists(), "no history of deletions that did not happen"


def test_deleting_selected_members_removes_each_through_the_service_with_its_history(org_admin, tenant):
    selected = [tenant.member("viewer").pk, tenant.member("developer").pk]
    response = org_admin.post("/admin/accounts/member/", {"action": "delete_selected", "_selected_action": selected,
                                                          "post": "yes"})
    assert response.status_code == 302
    assert not Member.unscoped.filter(pk__in=selected).exists()
    assert {e.target_id for e in AuditEvent.unscoped.filter(action="member.removed")} == set(selected)
    assert set(LogEntry.objects.filter(action_flag=DELETION).values_list("object_id", flat=True)) == set(selected)


def test_the_member_model_admins_delete_queryset_is_atomic(org_admin, tenant):
    selected = _old_admin_and_selected(tenant, org_admin.member, "viewer")
    request = RequestFactory().post("/admin/accounts/member/")
    request.user, request.session = org_admin.member.user, {}
    model_admin = site._registry[Member]
    with pytest.raises(Exception, match="at least one Admin"):
        model_admin.delete_queryset(request, model_admin.get_queryset(request).filter(pk__in=selected))
    assert Member.unscoped.filter(pk__in=selected).count() == 2


def test_a_service_member_is_added_with_grantable_scopes_only(org_admin, tenant):
    refused = org_admin.post("/admin/accounts/member/add/", {"organization": tenant.org.pk, "name": "ETL",
                                                             "granted_scopes": ["org:admin"]})
    assert refused.status_code == 200 and not Member.unscoped.filter(name="ETL").exists()
    response = org_admin.post("/admin/accounts/member/add/", {"organization": tenant.org.pk, "name": "ETL",
                                                              "granted_scopes": ["data:read"]})
    assert response.status_code == 302
    member = Member.unscoped.get(name="ETL")
    assert (member.role, member.granted_scopes) == ("service", ["data:read"])
    assert by_console(AuditEvent.unscoped.get(action="member.created", target_id=member.id), org_admin.member)


# API keys


def test_a_key_made_in_the_console_needs_sudo_and_shows_its_secret_once(org_admin, tenant):
    developer = tenant.member("developer")
    assert org_admin.get("/admin/accounts/apikey/add/")["Location"].startswith("/account/sudo?")
    confirm_sudo(org_admin)
    form = {"member": developer.pk, "name": "Deploy", "scopes": ["connectors:read"], "expires_at_0": "", "expires_at_1": ""}
    response = org_admin.post("/admin/accounts/apikey/add/", form)
    page = html(response)
    assert response["Cache-Control"].count("no-store")
    secret = KEY.search(page).group(0)
    assert secret.startswith("sk_test_")
    api_key = APIKey.unscoped.get(name="Deploy")
    assert api_key.member == developer and api_key.created_by == org_admin.member
    assert by_console(AuditEvent.unscoped.get(action="api_key.created", target_id=api_key.id), org_admin.member)
    assert api_client(secret).get("/api/v1/me").json()["member"]["id"] == developer.id
    for later in ("/admin/accounts/apikey/", admin_url(api_key, "change"), "/admin/"):
        later_page = html(org_admin.get(later))
        assert secret not in later_page and api_key.digest not in later_page
    assert api_key.masked in html(org_admin.get("/admin/accounts/apikey/"))


def test_save_as_new_on_a_keys_page_is_refused_and_shows_no_secret(org_admin, tenant):
    """Django turns a change form posted with "_saveasnew" into an add: it would skip add_view, where sudo
    was asked, and answer with a new key's secret."""
    tenant.key("developer")
    api_key = APIKey.unscoped.get()
    form = {"member": tenant.member("developer").pk, "name": "Sneaky", "scopes": ["data:read"], "expires_at_0": "",
            "expires_at_1": "", "_saveasnew": "Save as new"}
    for sudo in (False, True):
        if sudo:
            confirm_sudo(org_admin)
        response = org_admin.post(admin_url(api_key, "change"), form)
        assert response.status_code == 403 and not KEY.search(response.content.decode())
    assert not APIKey.unscoped.filter(name="Sneaky").exists()
    assert AuditEvent.unscoped.filter(action="api_key.created").count() == 1


@pytest.mark.parametrize("model", sorted(ADMIN_OBJECTS, key=lambda m: m._meta.label), ids=lambda m: m._meta.label)
def test_save_as_new_is_refused_on_every_page(org_admin, tenant, model):
    obj = ADMIN_OBJECTS[model](tenant)
    confirm_sudo(org_admin)
    count = model._base_manager.count()
    response = org_admin.post(admin_url(obj, "change"), {"_saveasnew": "Save as new", "name": "Copy"})
    assert response.status_code == 403
    assert model._base_manager.count() == count


ADD_FORMS = {
    APIKey: lambda tenant: {"member": tenant.member("developer").pk, "name": "Sneaky", "scopes": ["data:read"],
                            "expires_at_0": "", "expires_at_1": ""},
    OAuthApplication: lambda tenant: {"organization": tenant.org.pk, "name": "Sneaky", "client_type": "confidential",
                                      "grant_types": ["client-credentials"], "redirect_uris": "",
                                      "allowed_scopes": ["data:read"]},
}


@pytest.mark.parametrize("model", list(ADD_FORMS), ids=lambda m: m._meta.label)
def test_every_add_of_a_secret_needs_sudo_not_only_the_add_page(org_admin, tenant, model):
    """The check is where every add passes (changeform_view with no object), not in add_view alone."""
    request = RequestFactory().post("/admin/", ADD_FORMS[model](tenant))
    request.user, request.session, request._dont_enforce_csrf_checks = org_admin.member.user, {}, True
    request.user.is_verified = lambda: True  # as django-otp's middleware marks a session that passed a code
    request._messages = FallbackStorage(request)
    response = site._registry[model].changeform_view(request, None)
    assert response.status_code == 302 and response["Location"].startswith("/account/sudo?")
    assert not model._base_manager.filter(name="Sneaky").exists()


def test_a_key_cannot_get_scopes_beyond_its_members_role(org_admin, tenant):
    confirm_sudo(org_admin)
    form = {"member": tenant.member("viewer").pk, "name": "Too much", "scopes": ["connectors:write"],
            "expires_at_0": "", "expires_at_1": ""}
    response = org_admin.post("/admin/accounts/apikey/add/", form)
    assert response.status_code == 200 and "does not allow: connectors:write" in response.content.decode()
    assert not APIKey.unscoped.filter(name="Too much").exists()


def test_a_key_cannot_be_made_for_another_organizations_member(org_admin, other_tenant):
    confirm_sudo(org_admin)
    theirs = other_tenant.member("developer")
    page = html(org_admin.get("/admin/accounts/apikey/add/"))
    assert theirs.pk not in page
    response = org_admin.post("/admin/accounts/apikey/add/", {"member": theirs.pk, "name": "Sneaky",
                                                              "scopes": ["connectors:read"], "expires_at_0": "",
                                                              "expires_at_1": ""})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not APIKey.unscoped.filter(name="Sneaky").exists()


def test_revoking_a_key_in_the_console_is_audited_and_takes_effect(org_admin, tenant):
    secret = tenant.key("developer")
    api_key = APIKey.unscoped.get(member=tenant.member("developer"))
    revoke = admin_url(api_key, "revoke")
    assert revoke in html(org_admin.get(admin_url(api_key, "change")))
    assert "cannot be undone" in html(org_admin.get(revoke))
    response = org_admin.post(revoke)
    assert response["Location"] == admin_url(api_key, "change")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert by_console(AuditEvent.unscoped.get(action="api_key.revoked", target_id=api_key.id), org_admin.member)
    assert api_client(secret).get("/api/v1/me").status_code == 401
    assert revoke not in html(org_admin.get(admin_url(api_key, "change")))


def test_revoking_a_rolled_key_in_the_console_ends_the_key_it_replaced(org_admin, tenant):
    old_secret = tenant.key("developer")
    old = APIKey.unscoped.get(member=tenant.member("developer"))
    new, new_secret = roll_api_key(principal=None, api_key=old, expires_in=86400)
    assert api_client(old_secret).get("/api/v1/me").status_code == 200  # in its grace period
    assert org_admin.post(admin_url(new, "revoke")).status_code == 302
    assert api_client(new_secret).get("/api/v1/me").status_code == 401
    assert api_client(old_secret).get("/api/v1/me").status_code == 401
    for key in (old, new):
        assert by_console(AuditEvent.unscoped.get(action="api_key.revoked", target_id=key.id), org_admin.member)


def test_keys_are_revoked_in_bulk_from_the_list(org_admin, tenant):
    tenant.key("developer"), tenant.key("viewer")
    ids = list(APIKey.unscoped.values_list("pk", flat=True))
    response = org_admin.post("/admin/accounts/apikey/", {"action": "revoke_selected", "_selected_action": ids})
    assert response.status_code == 302
    assert not APIKey.unscoped.filter(revoked_at__isnull=True).exists()
    assert AuditEvent.unscoped.filter(action="api_key.revoked").count() == len(ids)


def test_rolling_a_key_needs_sudo_and_shows_the_new_secret_once(org_admin, tenant):
    old_secret = tenant.key("developer")
    api_key = APIKey.unscoped.get(member=tenant.member("developer"))
    roll = admin_url(api_key, "roll")
    assert org_admin.get(roll)["Location"].startswith("/account/sudo?")
    assert org_admin.post(roll, {"expires_in": "3600"})["Location"].startswith("/account/sudo?")
    confirm_sudo(org_admin)
    page = html(org_admin.post(roll, {"expires_in": "3600"}))
    new_secret = KEY.search(page).group(0)
    api_key.refresh_from_db()
    assert api_key.rolled_to is not None and api_key.expires_at is not None
    assert by_console(AuditEvent.unscoped.get(action="api_key.rolled", target_id=api_key.id), org_admin.member)
    assert api_client(new_secret).get("/api/v1/me").status_code == 200
    assert api_client(old_secret).get("/api/v1/me").status_code == 200, "the old key works during the grace period"


def test_staff_changes_are_audited_as_staff(staff, tenant):
    tenant.key("developer")
    api_key = APIKey.unscoped.get()
    assert staff.post(admin_url(api_key, "revoke")).status_code == 302
    event = AuditEvent.unscoped.get(action="api_key.revoked")
    assert (event.organization_id, event.actor_type, event.credential_kind, event.credential_id) == (
        tenant.org.pk, "system", "staff", str(staff.user.pk))


def test_filtering_on_a_digest_from_the_url_is_refused(org_admin, tenant):
    tenant.key("developer")
    digest = APIKey.unscoped.get().digest
    assert org_admin.get(f"/admin/accounts/apikey/?digest__startswith={digest[:2]}").status_code == 400


# OAuth applications


def portal_form(tenant, client_type="confidential"):
    """The console's add form of an OAuth application named Portal."""
    return {"organization": tenant.org.pk, "name": "Portal", "client_type": client_type,
            "grant_types": ["authorization-code"], "redirect_uris": "https://portal.example.com/cb",
            "allowed_scopes": ["connectors:read"]}


def add_portal(org_admin, tenant, client_type="confidential"):
    """Portal, added in the console with sudo confirmed."""
    confirm_sudo(org_admin)
    org_admin.post("/admin/accounts/oauthapplication/add/", portal_form(tenant, client_type))
    return OAuthApplication.unscoped.get(name="Portal")


def test_an_oauth_application_made_in_the_console_needs_sudo_and_shows_its_secret_once(org_admin, tenant):
    form = portal_form(tenant)
    assert org_admin.get("/admin/accounts/oauthapplication/add/")["Location"].startswith("/account/sudo?")
    refused = org_admin.post("/admin/accounts/oauthapplication/add/", form)
    assert refused.status_code == 302 and refused["Location"].startswith("/account/sudo?")
    assert not OAuthApplication.unscoped.filter(name="Portal").exists()
    confirm_sudo(org_admin)
    page = html(org_admin.post("/admin/accounts/oauthapplication/add/", form))
    application = OAuthApplication.unscoped.get(name="Portal")
    secret = re.search(r'<code id="new-secret">([^<]+)</code>', page).group(1)
    assert application.client_secret != secret, "stored hashed"
    assert by_console(AuditEvent.unscoped.get(action="oauth_application.created", target_id=application.id),
                      org_admin.member)
    change = html(org_admin.get(admin_url(application, "change")))
    assert secret not in change and application.client_secret not in change


def test_an_oauth_application_change_is_validated_and_audited(org_admin, tenant):
    application = add_portal(org_admin, tenant, "public")
    change = admin_url(application, "change")
    bad = {"name": "Portal", "grant_types": ["authorization-code"], "redirect_uris": "http://portal.example.com/cb",
           "allowed_scopes": ["connectors:read"]}
    assert "exact https URLs" in html(org_admin.post(change, bad))
    good = {**bad, "redirect_uris": "https://portal.example.com/cb\r\nhttps://portal.example.com/other",
            "allowed_scopes": ["connectors:read", "data:read"]}
    assert org_admin.post(change, good).status_code == 302
    application.refresh_from_db()
    assert application.redirect_uris.split() == ["https://portal.example.com/cb", "https://portal.example.com/other"]
    event = AuditEvent.unscoped.get(action="oauth_application.updated")
    assert event.metadata == {"fields": ["allowed_scopes", "redirect_uris"]} and by_console(event, org_admin.member)
    assert org_admin.post(admin_url(application, "delete"), {"post": "yes"}).status_code == 302
    assert AuditEvent.unscoped.filter(action="oauth_application.deleted", target_id=application.id).exists()


def test_widening_an_oauth_applications_scopes_or_grants_needs_sudo(org_admin, tenant):
    application = add_portal(org_admin, tenant)
    change = admin_url(application, "change")
    session = org_admin.session
    session.pop(SUDO_AT)
    session.save()
    base = {"name": "Portal", "grant_types": ["authorization-code"], "redirect_uris": "https://portal.example.com/cb",
            "allowed_scopes": ["connectors:read"]}
    for wider in ({"allowed_scopes": ["connectors:read", "connectors:write"]},
                  {"grant_types": ["authorization-code", "client-credentials"]}):
        refused = org_admin.post(change, {**base, **wider})
        assert refused.status_code == 302 and refused["Location"].startswith("/account/sudo?")
    application.refresh_from_db()
    assert application.allowed_scopes == ["connectors:read"] and application.grant_types == ["authorization-code"]
    assert org_admin.post(change, {**base, "name": "Portal 2"}).status_code == 302, "a new name alone needs no sudo"


# Invitations


def test_invitations_are_sent_resent_and_cancelled_from_the_console(org_admin, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = org_admin.post("/admin/accounts/invitation/add/", {"organization": tenant.org.pk,
                                                                      "email": "New.Person@Example.com", "role": "viewer"})
    assert response.status_code == 302
    invitation = Invitation.unscoped.get()
    assert (invitation.email, invitation.invited_by) == ("new.person@example.com", org_admin.member)
    assert mail.outbox[-1].to == ["new.person@example.com"]
    with django_capture_on_commit_callbacks(execute=True):
        assert org_admin.post(admin_url(invitation, "resend")).status_code == 302
    assert len(mail.outbox) == 2
    assert org_admin.post(admin_url(invitation, "cancel")).status_code == 302
    invitation.refresh_from_db()
    assert invitation.status() == "cancelled"
    for action in ("invitation.created", "invitation.resent", "invitation.cancelled"):
        assert by_console(AuditEvent.unscoped.get(action=action, target_id=invitation.id), org_admin.member)
    page = html(org_admin.get(admin_url(invitation, "change")))
    assert invitation.token_digest not in page and "/resend/" not in page


def test_inviting_a_member_again_is_refused_on_the_form(org_admin, tenant):
    email = tenant.member("developer").user.email
    response = org_admin.post("/admin/accounts/invitation/add/", {"organization": tenant.org.pk, "email": email,
                                                                  "role": "viewer"})
    assert response.status_code == 200 and "already a member" in response.content.decode()
    assert not Invitation.unscoped.exists()


# Organizations, connectors, webhook endpoints


def test_requiring_two_factor_of_everyone_needs_sudo_and_is_audited(org_admin, tenant):
    change = admin_url(tenant.org, "change")
    assert org_admin.post(change, {"name": "Acme", "require_mfa": "on"})["Location"].startswith("/account/sudo?")
    confirm_sudo(org_admin)
    assert org_admin.post(change, {"name": "Acme", "require_mfa": "on"}).status_code == 302
    tenant.org.refresh_from_db()
    assert tenant.org.require_mfa
    event = AuditEvent.unscoped.get(action="organization.updated")
    assert event.metadata == {"require_mfa": True} and by_console(event, org_admin.member)


def test_a_connector_change_is_validated_like_the_api_and_keeps_its_credentials(org_admin, tenant):
    connector = make_connector(tenant)
    change = admin_url(connector, "change")
    bad = org_admin.post(change, {"name": "Billing", "config": '{"base_url": "ftp://x"}'})
    assert bad.status_code == 200 and "base_url" in bad.content.decode()
    good = {"name": "Billing v2", "config": '{"base_url": "https://v2.billing.example.com", "headers": {}}'}
    assert org_admin.post(change, good).status_code == 302
    connector = Connector.unscoped.get(pk=connector.pk)
    assert connector.name == "Billing v2" and connector.config["base_url"] == "https://v2.billing.example.com"
    assert connector.credentials == {"token": "tok_canary_connector"}
    event = AuditEvent.unscoped.get(action="connector.updated")
    assert event.metadata == {"fields": ["config", "name"]} and by_console(event, org_admin.member)
    assert event.livemode is False


def test_a_connector_in_use_is_not_deleted(org_admin, tenant):
    connector = make_workflow(tenant).connector
    response = org_admin.post(admin_url(connector, "delete"), {"post": "yes"})
    assert response.status_code == 200 and "Cannot delete connector" in response.content.decode()
    assert Connector.unscoped.filter(pk=connector.pk).exists()
    assert not AuditEvent.unscoped.filter(action="connector.deleted").exists()


def test_a_webhook_endpoint_change_is_validated_and_audited(org_admin, tenant):
    endpoint = make_webhook_endpoint(tenant)
    change = admin_url(endpoint, "change")
    form = {"url": "http://hooks.example.com/in", "description": "", "events": ["connector.created"], "enabled": "on"}
    assert "https URL" in html(org_admin.post(change, form))
    form.update(url="https://hooks.example.com/v2", events=["*"])
    assert org_admin.post(change, form).status_code == 302
    event = AuditEvent.unscoped.get(action="webhook_endpoint.updated")
    assert event.metadata == {"fields": ["events", "url"]} and by_console(event, org_admin.member)
    assert org_admin.post(admin_url(endpoint, "delete"), {"post": "yes"}).status_code == 302
    assert AuditEvent.unscoped.filter(action="webhook_endpoint.deleted", target_id=endpoint.pk).exists()


# The audit log


def test_the_audit_log_is_read_only(org_admin, tenant):
    tenant.key("developer")
    event = AuditEvent.unscoped.filter(organization=tenant.org).first()
    assert org_admin.get("/admin/audit/auditevent/add/").status_code == 403
    assert org_admin.post(admin_url(event, "change"), {"action": "x"}).status_code == 403
    assert org_admin.post(admin_url(event, "delete"), {"post": "yes"}).status_code == 403
    page = html(org_admin.get(admin_url(event, "change")))
    assert 'type="submit"' not in page.split('id="auditevent_form"', 1)[1]
    assert AuditEvent.unscoped.filter(pk=event.pk, action=event.action).exists()


def test_the_audit_log_filters_by_action_and_date(org_admin, tenant):
    tenant.key("developer")
    api_key = APIKey.unscoped.get()
    org_admin.post(admin_url(api_key, "revoke"))
    created = AuditEvent.unscoped.get(action="api_key.created")
    revoked = AuditEvent.unscoped.get(action="api_key.revoked")
    page = html(org_admin.get("/admin/audit/auditevent/", {"action": "api_key.revoked"}))
    assert admin_url(revoked) in page and admin_url(created) not in page
    day = revoked.created_at.date()
    page = html(org_admin.get("/admin/audit/auditevent/", {"created_at__year": day.year, "created_at__month": day.month,
                                                          "created_at__day": day.day}))
    assert admin_url(revoked) in page
    page = html(org_admin.get("/admin/audit/auditevent/", {"created_at__gte": "2000-01-01 00:00:00+00:00",
                                                          "created_at__lt": "2000-01-02 00:00:00+00:00"}))
    assert admin_url(revoked) not in page

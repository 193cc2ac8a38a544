"""Access reviews in the console: an Admin starts one, decides for every member and service credential,
completes it (sudo), which applies every decision through the services (audited); a completed review
exports as CSV with formulas defused; overdue reviews are flagged on the console's index."""

import csv
import io
import re
from datetime import timedelta

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from accounts.actions import reviews

from accounts.actions.api_keys import roll_api_key

from accounts.actions.members import remove_member, update_member
from accounts.models import AccessReview, AccessReviewItem, APIKey, Member
from core.principal import session_principal
from audit.models import AuditEvent
from tests.support.oauth import form_fields, person
from tests.admin.conftest import confirm_sudo, html
from tests.support.console import admin_url
from tests.admin.test_changes import by_console
from tests.conftest import api_client

KEEP, CHANGE, REVOKE = AccessReviewItem.KEEP, AccessReviewItem.CHANGE_ROLE, AccessReviewItem.REVOKE


def decisions_form(page, decisions):
    """The review page's form, with ``decisions`` ({item id: (decision, new role, note)}) filled in."""
    fields = form_fields(page)
    data = {name: value for name, value in fields.items() if name.startswith("items-")}
    for name, value in fields.items():
        match = re.fullmatch(r"items-(\d+)-id", name)
        if match:
            decision, new_role, note = decisions.get(int(value), ("", "", ""))
            prefix = f"items-{match.group(1)}-"
            data.update({prefix + "decision": decision, prefix + "new_role": new_role, prefix + "note": note})
    return {**data, "_save": "Save"}


def start(browser, tenant, due_in_days=7):
    due = timezone.localdate() + timedelta(days=due_in_days)
    response = browser.post("/admin/accounts/accessreview/add/", {"organization": tenant.org.pk, "due_date": due.isoformat()})
    review = AccessReview.unscoped.get(organization=tenant.org)
    assert response.status_code == 302 and response["Location"] == admin_url(review)
    return review


def decide(browser, review, decisions):
    page = html(browser.get(admin_url(review)))
    return browser.post(admin_url(review), decisions_form(page, decisions))


def items_by_subject(review):
    return {(item.member_id or item.api_key_id): item for item in review.items.all()}


def test_an_admin_runs_a_whole_access_review(org_admin, tenant):
    admin = org_admin.member
    developer, viewer, service = person(tenant, "developer"), tenant.member("viewer"), tenant.member("service")
    tenant.key("developer")
    service_secret = tenant.key("service")
    service_key = APIKey.unscoped.get(member=service)

    review = start(org_admin, tenant)
    items = items_by_subject(review)
    assert set(items) == {admin.id, developer.id, viewer.id, service.id, service_key.id}
    assert items[admin.id].mfa_enabled and not items[developer.id].mfa_enabled
    assert items[service_key.id].key_age_days == 0 and items[service_key.id].scopes == service_key.scopes
    assert AuditEvent.unscoped.get(action="access_review.started").metadata["items"] == 5

    page = html(org_admin.get(admin_url(review)))
    for item in items.values():
        assert item.subject in page
    assert service_key.masked in page and service_key.digest not in page

    response = decide(org_admin, review, {
        items[admin.id].pk: (KEEP, "", "still the owner"),
        items[developer.id].pk: (CHANGE, "viewer", "least privilege"),
        items[viewer.id].pk: (REVOKE, "", "left the company"),
        items[service.id].pk: (KEEP, "", ""),
        items[service_key.id].pk: (REVOKE, "", "unused"),
    })
    assert response.status_code == 302
    for item in review.items.all():
        assert item.decided_by == admin and item.decided_at is not None
    assert AuditEvent.unscoped.filter(action="access_review.item_decided", actor_id=admin.id).count() == 5
    assert developer.role == Member.unscoped.get(pk=developer.pk).role == "developer", "nothing applied yet"

    complete = admin_url(review, "complete")
    assert complete in html(org_admin.get(admin_url(review)))
    assert org_admin.get(complete)["Location"].startswith("/account/sudo?")
    confirm_sudo(org_admin)
    assert "Every decision is applied" in html(org_admin.get(complete))
    assert org_admin.post(complete)["Location"] == admin_url(review)

    review.refresh_from_db()
    assert review.completed_at is not None and review.completed_by == admin
    assert Member.unscoped.get(pk=developer.pk).role == "viewer"
    assert not Member.unscoped.filter(pk=viewer.pk).exists()
    service_key.refresh_from_db()
    assert service_key.revoked_at is not None
    assert api_client(service_secret).get("/api/v1/me").status_code == 401
    assert by_console(AuditEvent.unscoped.get(action="member.role_changed", target_id=developer.id), admin)
    assert by_console(AuditEvent.unscoped.get(action="member.removed", target_id=viewer.id), admin)
    assert by_console(AuditEvent.unscoped.get(action="api_key.revoked", target_id=service_key.id), admin)
    completed = AuditEvent.unscoped.get(action="access_review.completed", target_id=review.id)
    assert completed.metadata == {"kept": 2, "changed": 1, "revoked": 2, "skipped": []} and by_console(completed, admin)

    page = html(org_admin.get(admin_url(review)))
    assert complete not in page and 'name="items-0-decision"' not in page, "a completed review is read-only"
    export = org_admin.get(admin_url(review, "export"))
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert export["Content-Disposition"] == f'attachment; filename="access-review-{review.pk}.csv"'
    rows = {row["subject"]: row for row in csv.DictReader(io.StringIO(export.content.decode()))}
    assert len(rows) == 5
    changed = rows[developer.user.email]
    assert (changed["kind"], changed["role"], changed["decision"], changed["new_role"], changed["note"],
            changed["decided_by"], changed["mfa_enabled"]) == (
        "member", "developer", "change_role", "viewer", "least privilege", admin.user.email, "False")
    key_row = next(row for row in rows.values() if row["kind"] == "credential")
    assert (key_row["decision"], key_row["note"], key_row["key_age_days"]) == ("revoke", "unused", "0")
    assert rows[admin.user.email]["mfa_enabled"] == "True"
    assert by_console(AuditEvent.unscoped.get(action="access_review.exported", target_id=review.id), admin)


def test_a_review_completes_only_when_every_entry_is_decided(org_admin, tenant):
    tenant.member("developer")
    review = start(org_admin, tenant)
    items = items_by_subject(review)
    decide(org_admin, review, {items[org_admin.member.id].pk: (KEEP, "", "")})
    confirm_sudo(org_admin)
    response = org_admin.post(admin_url(review, "complete"))
    assert response["Location"] == admin_url(review)
    assert "Decide on every entry first" in html(org_admin.get(response["Location"]))
    review.refresh_from_db()
    assert review.completed_at is None


def test_only_a_persons_role_can_change(org_admin, tenant):
    tenant.member("service")
    tenant.key("service")
    review = start(org_admin, tenant)
    key_item = review.items.get(api_key__isnull=False)
    response = decide(org_admin, review, {key_item.pk: (CHANGE, "admin", "")})
    assert response.status_code == 200 and "Only a person" in response.content.decode()
    key_item.refresh_from_db()
    assert key_item.decision == ""


def test_the_admin_completing_a_review_cannot_remove_themselves_by_it(org_admin, tenant):
    second = tenant.member("developer")
    second.role = "admin"
    second.save()
    review = start(org_admin, tenant)
    items = items_by_subject(review)
    decide(org_admin, review, {items[org_admin.member.id].pk: (REVOKE, "", ""), items[second.id].pk: (KEEP, "", "")})
    confirm_sudo(org_admin)
    response = org_admin.post(admin_url(review, "complete"))
    assert "another Admin must complete it" in html(org_admin.get(response["Location"]))
    assert Member.unscoped.filter(pk=org_admin.member.pk).exists()


def test_an_admin_hands_over_in_one_review(org_admin, tenant):
    """A promotion is applied before a demotion, so the organization never has no Admin on the way."""
    developer = tenant.member("developer")
    review = start(org_admin, tenant)
    items = items_by_subject(review)
    decide(org_admin, review, {items[org_admin.member.id].pk: (CHANGE, "viewer", ""),
                               items[developer.id].pk: (CHANGE, "admin", "")})
    reviews.complete(review=review, completed_by=org_admin.member)
    assert Member.unscoped.get(pk=org_admin.member.pk).role == "viewer"
    assert Member.unscoped.get(pk=developer.pk).role == "admin"


def test_a_decision_after_completion_is_refused(tenant):
    admin = tenant.member("admin")
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    item = review.items.get()
    reviews.decide(item=item, decision=KEEP, decided_by=admin)
    reviews.complete(review=review, completed_by=admin)
    stale = AccessReviewItem.objects.select_related("review").get(pk=item.pk)
    stale.review.completed_at = None  # as read before the completion
    with pytest.raises(Exception, match="completed"):
        reviews.decide(item=stale, decision=REVOKE, decided_by=admin)
    with pytest.raises(Exception, match="keep, change_role or revoke"):
        reviews.decide(item=stale, decision="delete everything", decided_by=admin)


@pytest.mark.parametrize("value", [
    '=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1", " =1+1",
    "\uff1dcmd|' /C calc'!A0",
])
def test_the_csv_export_defuses_formulas(tenant, value):
    admin = tenant.member("admin")
    developer = tenant.member("developer")
    developer.name = value
    developer.save()
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    for item in review.items.all():
        reviews.decide(item=item, decision=KEEP, decided_by=admin, note=value)
    reviews.complete(review=review, completed_by=admin)
    rows = list(csv.DictReader(io.StringIO(reviews.export_csv(review))))
    row = next(r for r in rows if r["note"].endswith(value))
    assert next(r for r in rows if r["subject"].endswith(value))["subject"] == "'" + value
    assert row["note"] == "'" + value
    assert rows[0]["scopes"][:1] != "'" and rows[0]["role"] in ("admin", "developer"), "plain values stay plain"


def test_starting_a_review_needs_a_due_date_not_in_the_past(org_admin, tenant):
    yesterday = timezone.localdate() - timedelta(days=1)
    response = org_admin.post("/admin/accounts/accessreview/add/", {"organization": tenant.org.pk,
                                                                    "due_date": yesterday.isoformat()})
    assert response.status_code == 200 and "cannot be in the past" in response.content.decode()
    assert not AccessReview.unscoped.exists()


def test_overdue_reviews_are_flagged_on_the_index(org_admin, staff, tenant, other_tenant):
    past = timezone.localdate() - timedelta(days=3)
    overdue = reviews.start(organization=tenant.org, started_by=tenant.member("admin"), due_date=past)
    theirs = reviews.start(organization=other_tenant.org, started_by=other_tenant.member("admin"), due_date=past)
    done = reviews.start(organization=tenant.org, started_by=tenant.member("admin"), due_date=past)
    for item in done.items.all():
        reviews.decide(item=item, decision=KEEP, decided_by=tenant.member("admin"))
    reviews.complete(review=done, completed_by=tenant.member("admin"))
    reviews.start(organization=tenant.org, started_by=tenant.member("admin"), due_date=timezone.localdate())

    page = html(org_admin.get("/admin/"))
    assert "1 access review overdue" in page
    assert admin_url(overdue) in page and admin_url(theirs) not in page and admin_url(done) not in page
    assert "OVERDUE" in html(org_admin.get("/admin/accounts/accessreview/"))
    staff_page = html(staff.get("/admin/"))
    assert "2 access reviews overdue" in staff_page and admin_url(theirs) in staff_page


def test_no_overdue_flag_without_overdue_reviews(org_admin):
    assert "overdue" not in html(org_admin.get("/admin/")).lower()


def test_platform_staff_read_and_export_reviews_but_do_not_decide_them(staff, tenant):
    admin = tenant.member("admin")
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    page = html(staff.get(admin_url(review)))
    assert admin_url(review, "complete") not in page and 'name="items-0-decision"' not in page
    assert staff.post(admin_url(review, "complete")).status_code == 403
    assert staff.get("/admin/accounts/accessreview/add/").status_code == 403
    for item in review.items.all():
        reviews.decide(item=item, decision=KEEP, decided_by=admin)
    reviews.complete(review=review, completed_by=admin)
    assert staff.get(admin_url(review, "export")).status_code == 200
    event = AuditEvent.unscoped.get(action="access_review.exported")
    assert (event.actor_type, event.credential_kind) == ("system", "staff")


def test_an_open_review_does_not_export(org_admin, tenant):
    review = start(org_admin, tenant)
    response = org_admin.get(admin_url(review, "export"))
    assert response.status_code == 302 and response["Location"] == admin_url(review)


def keep_all(review, admin, decisions=None):
    """Every entry decided: keep, unless ``decisions`` ({item pk: (decision, new role)}) says otherwise."""
    for item in review.items.all():
        decision, new_role = (decisions or {}).get(item.pk, (KEEP, ""))
        reviews.decide(item=item, decision=decision, decided_by=admin, new_role=new_role)


def csv_rows(review):
    return {row["subject"]: row for row in csv.DictReader(io.StringIO(reviews.export_csv(review)))}


def test_who_started_decided_and_completed_a_review_outlives_their_membership(org_admin, tenant):
    owner = org_admin.member
    second = person(tenant, "developer")
    update_member(principal=session_principal(owner), member=second, role="admin")
    review = reviews.start(organization=tenant.org, started_by=second, due_date=timezone.localdate())
    keep_all(review, second)
    reviews.complete(review=review, completed_by=second)
    email, member_id = second.user.email, second.id
    remove_member(principal=session_principal(owner), member=second)

    review.refresh_from_db()
    assert review.started_by is None and review.completed_by is None, "the links are gone with the member"
    assert (review.started_by_label, review.started_by_member_id) == (email, member_id)
    assert (review.completed_by_label, review.completed_by_member_id) == (email, member_id)
    rows = csv_rows(review)
    assert {(row["decided_by"], row["decided_by_member_id"]) for row in rows.values()} == {(email, member_id)}
    assert all(row["decided_at"] for row in rows.values())
    page = html(org_admin.get(admin_url(review)))
    for field in ("started_by_label", "completed_by_label", "started_by_member_id", "completed_by_member_id"):
        shown = re.search(rf'field-{field}".*?<div class="readonly">([^<]*)</div>', page, re.S).group(1)
        assert shown == (member_id if field.endswith("member_id") else email), field
    assert re.findall(r'field-decided_by_label">\s*<p>([^<]*)</p>', page) == [email] * len(rows)
    listed = html(org_admin.get("/admin/accounts/accessreview/"))
    assert re.findall(r'field-(?:started|completed)_by_label">([^<]*)<', listed) == [email] * 2


def test_a_credentials_entry_stays_a_credential_after_its_key_is_deleted(org_admin, tenant):
    admin, service = org_admin.member, tenant.member("service")
    tenant.key("service")
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    key_item = review.items.get(api_key__isnull=False)
    assert key_item.kind == "credential" and review.items.get(member=admin).kind == "member"
    keep_all(review, admin)
    reviews.complete(review=review, completed_by=admin)
    remove_member(principal=session_principal(admin), member=service)  # its key goes with it

    key_item.refresh_from_db()
    assert key_item.api_key_id is None and key_item.kind == "credential"
    assert csv_rows(review)[key_item.subject]["kind"] == "credential"
    page = html(org_admin.get(admin_url(review)))
    row = page[page.index(key_item.subject):].split("</tr>", 1)[0]
    assert re.search(r'field-kind">\s*<p>Credential</p>', row), row
    assert re.search(r'field-two_factor">\s*<p>—</p>', row), "no two-factor column for a credential"


def test_the_migration_marks_existing_credential_entries_and_records_who_acted(tenant):
    admin = tenant.member("admin")
    tenant.key("service")
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    keep_all(review, admin)
    reviews.complete(review=review, completed_by=admin)
    AccessReviewItem.objects.update(kind="member", decided_by_label="", decided_by_member_id="")
    AccessReview.unscoped.update(started_by_label="", started_by_member_id="", completed_by_label="",
                                completed_by_member_id="")
    migration = importlib.import_module("accounts.migrations.0006_access_review_durable_records")
    migration.fill_durable_records(apps, None)
    assert review.items.get(api_key__isnull=False).kind == "credential"
    assert set(review.items.values_list("kind", flat=True)) == {"member", "credential"}
    assert set(review.items.values_list("decided_by_label", "decided_by_member_id")) == {(admin.user.email, admin.id)}
    review.refresh_from_db()
    assert (review.started_by_label, review.completed_by_member_id) == (admin.user.email, admin.id)


def test_revoking_a_key_in_a_review_revokes_the_keys_that_replaced_it(tenant):
    admin = tenant.member("admin")
    tenant.key("service")
    first = APIKey.unscoped.get(member=tenant.member("service"))
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    key_item = review.items.get(api_key=first)
    # Rolled twice while the review is open: the decision on the first key is about all of them.
    principal = session_principal(admin)
    second, _ = roll_api_key(principal=principal, api_key=first, expires_in=3600)
    third, third_secret = roll_api_key(principal=principal, api_key=second, expires_in=3600)
    assert api_client(third_secret).get("/api/v1/me").status_code == 200
    keep_all(review, admin, {key_item.pk: (REVOKE, "")})
    reviews.complete(review=review, completed_by=admin)

    for api_key in (first, second, third):
        api_key.refresh_from_db()
        assert api_key.revoked_at is not None, api_key.name
        event = AuditEvent.unscoped.get(action="api_key.revoked", target_id=api_key.id)
        assert (event.actor_type, event.actor_id) == ("member", admin.id)
    assert api_client(third_secret).get("/api/v1/me").status_code == 401


def test_a_key_rolled_before_the_review_follows_its_own_decision(tenant):
    admin = tenant.member("admin")
    tenant.key("service")
    old = APIKey.unscoped.get(member=tenant.member("service"))
    new, new_secret = roll_api_key(principal=session_principal(admin), api_key=old, expires_in=3600)
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    assert review.items.filter(api_key=new).exists(), "the replacement has its own entry"
    keep_all(review, admin, {review.items.get(api_key=old).pk: (REVOKE, "")})  # retire the old key, keep the new
    reviews.complete(review=review, completed_by=admin)
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.revoked_at is not None and new.revoked_at is None
    assert api_client(new_secret).get("/api/v1/me").status_code == 200


def test_a_decision_whose_subject_is_gone_is_skipped_not_counted(org_admin, tenant):
    admin = org_admin.member
    developer, viewer = tenant.member("developer"), tenant.member("viewer")
    tenant.key("service")
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    items = items_by_subject(review)
    key_item = review.items.get(api_key__isnull=False)
    developer_item = items[developer.id]
    keep_all(review, admin, {developer_item.pk: (CHANGE, "viewer"), items[viewer.id].pk: (REVOKE, ""),
                             key_item.pk: (REVOKE, "")})
    # Before completion: the developer and the service member (with its key) are removed elsewhere.
    remove_member(principal=session_principal(admin), member=developer)
    remove_member(principal=session_principal(admin), member=tenant.member("service"))

    confirm_sudo(org_admin)
    response = org_admin.post(admin_url(review, "complete"))
    assert response["Location"] == admin_url(review)
    assert "Not applied, the member or key was already gone" in html(org_admin.get(response["Location"]))
    completed = AuditEvent.unscoped.get(action="access_review.completed")
    assert completed.metadata == {"kept": 2, "changed": 0, "revoked": 1, "skipped": [
        {"item": developer_item.subject, "decision": "change_role", "reason": "member removed"},
        {"item": key_item.subject, "decision": "revoke", "reason": "key deleted"},
    ]}
    assert not Member.unscoped.filter(pk=viewer.pk).exists(), "what could be applied was"

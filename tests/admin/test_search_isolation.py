"""Checklist 8.4.1 in the console: an organization's Admin who searches (``?q=``) or autocompletes with
another organization's ids, names and emails finds nothing of it, on every registered ModelAdmin
(enumerated from the site's registry, so a new page is covered the day it is registered) and every
autocomplete field between them; and an organization's own exports (the access review CSV, the only
export the console has) hold nothing of another organization, even about a person who belongs to both."""

import csv
import io
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.utils import quote
from django.db import models
from django.urls import reverse
from django.utils import timezone

from accounts.actions import reviews
from accounts.models import AccessReviewItem, APIKey, Member, Organization
from accounts.actions.api_keys import create_api_key
from console.site import site
from tests.resources import ADMIN_OBJECTS

MODELS = sorted(site._registry, key=lambda model: model._meta.label)
SEARCHABLE = [model for model in MODELS if site._registry[model].search_fields]


def url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


def value_at(obj, path):
    """The value of a search field (``member__user__email``) on an object, or None."""
    for part in path.lstrip("^=@").split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def renamed(obj):
    """The other organization's object, with a name of its own (so a match on it cannot be one of ours)."""
    if any(f.name == "name" and isinstance(f, models.CharField) for f in obj._meta.fields):
        type(obj)._base_manager.filter(pk=obj.pk).update(name=f"Globex only {obj._meta.model_name}")
        obj.refresh_from_db()
    return obj


def terms_of(other_tenant, theirs):
    """What an Admin of Acme might type to find Globex's object: Globex's id and name, the object's id,
    its text, and its value in every search field of its page."""
    terms = {other_tenant.org.pk, other_tenant.org.name, str(theirs.pk), str(theirs)}
    for field in site._registry[type(theirs)].search_fields:
        value = value_at(theirs, field)
        if value not in (None, ""):
            terms.add(str(value))
    terms |= set(Member.unscoped.filter(organization=other_tenant.org, user__isnull=False)
                 .values_list("user__email", flat=True))
    return sorted(terms)


def their_rows(model, other_tenant):
    """The primary keys of every row of ``model`` that belongs to Globex (and not to Acme)."""
    if model is Organization:
        return {other_tenant.org.pk}
    if model is AccessAttempt:
        emails = Member.unscoped.filter(organization=other_tenant.org).values("user__email")
        return set(AccessAttempt.objects.filter(username__in=emails).values_list("pk", flat=True))
    return set(model._base_manager.filter(organization=other_tenant.org).values_list("pk", flat=True))


@pytest.fixture
def both(tenant, other_tenant):
    """One object of every registered model in each organization; a person in both organizations."""
    mine = {model: ADMIN_OBJECTS[model](tenant) for model in MODELS}
    theirs = {model: renamed(ADMIN_OBJECTS[model](other_tenant)) for model in MODELS}
    shared = other_tenant.member("developer").user
    Member.unscoped.create(organization=tenant.org, user=shared, role="viewer")
    return mine, theirs


@pytest.mark.parametrize("model", SEARCHABLE, ids=lambda m: m._meta.label)
def test_searching_with_another_organizations_ids_and_names_finds_nothing_of_it(org_admin, tenant, other_tenant,
                                                                                both, model):
    mine, theirs = both
    hidden = their_rows(model, other_tenant)
    assert theirs[model].pk in hidden
    own_term = next(str(value) for field in site._registry[model].search_fields
                    if (value := value_at(mine[model], field)) not in (None, ""))
    found_mine = org_admin.get(url(model, "changelist"), {"q": own_term})
    assert mine[model].pk in {row.pk for row in found_mine.context["cl"].result_list}  # the search works
    for term in terms_of(other_tenant, theirs[model]):
        response = org_admin.get(url(model, "changelist"), {"q": term})
        assert response.status_code == 200, (term, response.status_code)
        rows = {row.pk for row in response.context["cl"].result_list}
        assert not rows & hidden, (term, rows & hidden)
        page = response.content.decode()
        assert url(model, "change", quote(theirs[model].pk)) not in page, term


def autocomplete_fields():
    """Every (source model, field) the autocomplete view answers for: a relation from a registered model
    to a registered model."""
    found = []
    for model in MODELS:
        for field in model._meta.get_fields():
            if (field.is_relation and not field.auto_created and (field.many_to_one or field.many_to_many)
                    and field.related_model in site._registry):
                found.append((model, field.name))
    return found


AUTOCOMPLETE = autocomplete_fields()


def test_autocomplete_fields_are_enumerated():
    assert (APIKey, "member") in AUTOCOMPLETE and len(AUTOCOMPLETE) >= 8


@pytest.mark.parametrize("model,field_name", AUTOCOMPLETE, ids=[f"{m._meta.label}.{f}" for m, f in AUTOCOMPLETE])
def test_autocomplete_with_another_organizations_ids_and_names_finds_nothing_of_it(org_admin, tenant, other_tenant,
                                                                                   both, model, field_name):
    mine, theirs = both
    remote = model._meta.get_field(field_name).related_model
    hidden = {str(pk) for pk in their_rows(remote, other_tenant)}
    terms = [""] + terms_of(other_tenant, theirs[remote])
    offered = set()
    for term in terms:
        response = org_admin.get("/admin/autocomplete/", {"app_label": model._meta.app_label,
                                                          "model_name": model._meta.model_name,
                                                          "field_name": field_name, "term": term})
        if response.status_code in (403, 404):  # no search on that page: nothing offered at all
            continue
        assert response.status_code == 200, (term, response.status_code)
        ids = {result["id"] for result in response.json()["results"]}
        assert not ids & hidden, (term, ids & hidden)
        assert other_tenant.org.pk not in response.content.decode()
        offered |= ids
    if site._registry[remote].search_fields and remote is not Organization:
        assert str(mine[remote].pk) in offered  # the autocomplete works, for one's own organization


# -- exports ----------------------------------------------------------------------------------------------


def test_an_access_review_export_holds_nothing_of_another_organization(org_admin, tenant, other_tenant):
    # A person in both organizations, with keys in both; Globex has service members and keys of its own.
    shared = other_tenant.member("admin").user
    in_acme = Member.unscoped.create(organization=tenant.org, user=shared, role="developer", name="Shared person")
    long_ago, lately = timezone.now() - timedelta(days=30), timezone.now()
    acme_key, _ = create_api_key(member=in_acme, livemode=False, name="Acme key", scopes=["connectors:read"])
    APIKey.unscoped.filter(pk=acme_key.pk).update(last_used_at=long_ago)
    globex_key, _ = create_api_key(member=other_tenant.member("admin"), livemode=True, name="Globex-only key",
                                   scopes=["connectors:read"])
    APIKey.unscoped.filter(pk=globex_key.pk).update(last_used_at=lately)
    acme_service = Member.unscoped.create(organization=tenant.org, role="service", name="Acme ETL",
                                         granted_scopes=["connectors:read"])
    create_api_key(member=acme_service, livemode=True, name="Acme ETL key", scopes=["connectors:read"])
    other_service = Member.unscoped.create(organization=other_tenant.org, role="service", name="Globex ETL",
                                          granted_scopes=["connectors:read"])
    create_api_key(member=other_service, livemode=True, name="Globex ETL key", scopes=["connectors:read"])

    admin = org_admin.member
    review = reviews.start(organization=tenant.org, started_by=admin, due_date=timezone.localdate())
    for item in review.items.all():
        reviews.decide(item=item, decision=AccessReviewItem.KEEP, decided_by=admin, note="ok")
    reviews.complete(review=review, completed_by=admin)

    response = org_admin.get(url(type(review), "export", quote(review.pk)))
    assert response.status_code == 200, response.content[:300]
    text = response.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {row["subject"] for row in rows} >= {"Shared person", "Acme ETL key (%s) of Acme ETL" % (
        APIKey.unscoped.get(name="Acme ETL key").masked)}
    theirs = {other_tenant.org.pk, other_tenant.org.name, "Globex ETL", "Globex ETL key", "Globex-only key",
              globex_key.masked, globex_key.pk, other_service.pk, *other_tenant.org.members.values_list("pk", flat=True)}
    assert not {value for value in theirs if value in text}, text
    shared_row = next(row for row in rows if row["subject"] == "Shared person")
    assert shared_row["last_key_use"] == long_ago.isoformat()  # Acme's key, not Globex's more recent use

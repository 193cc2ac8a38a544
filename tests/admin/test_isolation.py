"""Every page of the console an organization's Admin opens holds only their organizations' objects:
every changelist (each registered ModelAdmin, so a new one is covered the day it is registered), and
every object URL of another organization answers 404, as one that never existed. Platform staff see all."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.admin.utils import quote
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from accounts.models import OAuthApplication
from console.site import site
from tests.admin.conftest import confirm_sudo, html
from tests.resources import ADMIN_OBJECTS

MODELS = sorted(site._registry, key=lambda model: model._meta.label)


def url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


def object_urls(model, obj):
    """Every URL of one object: its pages and its buttons."""
    pk = quote(obj.pk)
    urls = [url(model, "change", pk), url(model, "delete", pk), url(model, "history", pk)]
    urls += [url(model, action.name, pk) for action in site._registry[model].object_actions]
    return urls


def test_every_registered_model_has_an_object_factory():
    assert set(MODELS) == set(ADMIN_OBJECTS)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_an_organization_admin_sees_only_their_organizations_objects(org_admin, tenant, other_tenant, model):
    mine, theirs = ADMIN_OBJECTS[model](tenant), ADMIN_OBJECTS[model](other_tenant)
    page = html(org_admin.get(url(model, "changelist")))
    assert url(model, "change", quote(mine.pk)) in page
    assert url(model, "change", quote(theirs.pk)) not in page
    if isinstance(theirs.pk, str):  # public ids (axes' integer ids are checked through the links above)
        assert theirs.pk not in page
    assert other_tenant.org.name not in page and other_tenant.org.pk not in page
    for other_url in object_urls(model, theirs):
        assert org_admin.get(other_url).status_code == 404, other_url
        assert org_admin.post(other_url, {"post": "yes"}).status_code == 404, other_url
    assert type(theirs)._base_manager.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_another_organizations_object_is_answered_as_one_that_never_existed(org_admin, other_tenant, model):
    theirs = ADMIN_OBJECTS[model](other_tenant)
    missing = theirs.pk[:-1] + "0" if isinstance(theirs.pk, str) else 987654321
    for other_url, missing_url in zip(object_urls(model, theirs), object_urls(model, type(theirs)(pk=missing))):
        assert not_found(org_admin.get(other_url)) == not_found(org_admin.get(missing_url)), other_url


def not_found(response):
    """A 404 page, without its request id: the same for a missing object and another tenant's."""
    assert response.status_code == 404
    return re.sub(r"req_[0-9a-f]+", "", response.content.decode())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m._meta.label)
def test_platform_staff_see_every_organizations_objects(staff, tenant, other_tenant, model):
    objects = [ADMIN_OBJECTS[model](tenant), ADMIN_OBJECTS[model](other_tenant)]
    page = html(staff.get(url(model, "changelist")))
    for obj in objects:
        assert url(model, "change", quote(obj.pk)) in page
        html(staff.get(url(model, "change", quote(obj.pk))))


def test_autocomplete_offers_only_the_administered_organizations_objects(org_admin, tenant, other_tenant):
    mine, theirs = tenant.member("developer"), other_tenant.member("developer")
    response = org_admin.get("/admin/autocomplete/", {"app_label": "accounts", "model_name": "apikey",
                                                      "field_name": "member", "term": ""})
    ids = {result["id"] for result in response.json()["results"]}
    assert mine.pk in ids and theirs.pk not in ids


def test_there_is_no_view_on_site_redirector_to_probe_ids_with(org_admin, other_tenant):
    application = ADMIN_OBJECTS[OAuthApplication](other_tenant)
    content_type = ContentType.objects.get_for_model(OAuthApplication)
    assert org_admin.get(f"/admin/r/{content_type.pk}/{application.pk}/").status_code == 404


def test_add_forms_offer_only_the_administered_organizations_choices(org_admin, tenant, other_tenant):
    for model in MODELS:
        ADMIN_OBJECTS[model](other_tenant)
    confirm_sudo(org_admin)
    theirs = {other_tenant.org.pk, other_tenant.org.name, *other_tenant.org.members.values_list("pk", flat=True)}
    opened = 0
    for model in MODELS:
        response = org_admin.get(url(model, "add"))
        if response.status_code == 403:
            assert not site._registry[model].allow_add or model is AccessAttempt
            continue
        page = html(response)
        opened += 1
        assert tenant.org.name in page, model
        assert not {value for value in theirs if value in page}, model
    assert opened >= 5

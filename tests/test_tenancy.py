"""Fail-closed data access: a tenant model's default manager refuses a query that names no organization
(core.tenancy); the places that need every tenant say so with ``Model.unscoped``."""

import pytest
from django.apps import apps

from core.tenancy import TenantQuerySet, UnscopedQuery


def tenant_models():
    """Every model that carries an organization: tenant-owned, by the design's rule."""
    return sorted((model for model in apps.get_models()
                   if any(field.name == "organization" and field.is_relation for field in model._meta.fields)),
                  key=lambda model: model._meta.label)


TENANT_MODELS = tenant_models()
RUNS = {
    "iterate": lambda qs: list(qs),
    "count": lambda qs: qs.count(),
    "exists": lambda qs: qs.exists(),
    "first": lambda qs: qs.first(),
    "values": lambda qs: list(qs.values_list("pk", flat=True)),
    "iterator": lambda qs: list(qs.iterator()),
    "aggregate": lambda qs: qs.aggregate(n=__import__("django.db.models", fromlist=["Count"]).Count("pk")),
    "update": lambda qs: qs.update(organization_id=None),
    "delete": lambda qs: qs.delete(),
    "filtered by something else": lambda qs: list(qs.filter(created_at__isnull=False)),
    "excluding an organization": lambda qs: list(qs.exclude(organization_id="org_x")),
}


def test_the_tenant_models_are_the_expected_ones():
    # A new tenant model joins this list by carrying an organization; this says which exist today.
    assert [model._meta.label for model in TENANT_MODELS] == [
        "accounts.APIKey", "accounts.AccessReview", "accounts.Invitation", "accounts.Member",
        "accounts.OAuthApplication", "audit.AuditEvent", "connectors.Connector", "connectors.Dataset",
        "connectors.Record", "connectors.Workflow", "idempotency.IdempotencyKey", "webhooks.WebhookEndpoint",
    ]


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda model: model._meta.label)
def test_every_tenant_model_has_a_fail_closed_default_manager_and_a_named_unscoped_one(model):
    assert model._default_manager is model.objects
    assert isinstance(model.objects.all(), TenantQuerySet)
    assert isinstance(model.unscoped.all(), TenantQuerySet)


@pytest.mark.django_db
@pytest.mark.parametrize("run", RUNS, ids=str)
@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda model: model._meta.label)
def test_an_unscoped_query_of_a_tenant_model_raises_naming_the_model(model, run):
    if model._meta.label == "audit.AuditEvent" and run in ("update", "delete"):
        with pytest.raises(TypeError, match="append-only"):  # refused whatever the scope
            RUNS[run](model.objects.all())
        return
    with pytest.raises(UnscopedQuery, match=model._meta.label):
        RUNS[run](model.objects.all())


@pytest.mark.django_db
@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda model: model._meta.label)
def test_a_query_scoped_to_an_organization_runs(model, tenant):
    assert list(model.objects.filter(organization=tenant.org).filter(pk__in=[])) == []
    assert model.objects.filter(organization_id__in=[tenant.org.pk]).count() >= 0
    assert "not scoped" in repr(model.objects.all())  # repr never runs the query, nor raises


@pytest.mark.django_db
def test_scope_holds_through_chaining_and_related_managers(tenant):
    from accounts.models import APIKey, Member

    tenant.key("developer")
    member = Member.objects.for_organization(tenant.org).get(role="developer")
    assert list(member.api_keys.all()) == list(APIKey.objects.filter(organization=tenant.org, member=member))
    assert Member.objects.filter(organization=tenant.org).order_by("pk").select_related("user").exists()
    assert Member.objects.filter(organization=tenant.org).values("role").distinct().count() >= 1
    with pytest.raises(UnscopedQuery):
        Member.objects.filter(user=member.user).exists()  # a person's memberships in every organization
    assert Member.unscoped.filter(user=member.user).exists()  # ... asked for on purpose


@pytest.mark.django_db
def test_lookups_that_match_many_organizations_do_not_scope(tenant, other_tenant):
    from accounts.models import Member, OAuthApplication

    tenant.member("admin"), other_tenant.member("admin")
    for loose in ({"organization__isnull": False}, {"organization__name__contains": ""},
                  {"organization_id__gt": ""}):
        with pytest.raises(UnscopedQuery):
            Member.objects.filter(**loose).count()
    with pytest.raises(UnscopedQuery):
        OAuthApplication.objects.filter(client_id__startswith="").count()
    assert OAuthApplication.objects.filter(client_id="no-such-client").count() == 0  # the OAuth door's lookup


@pytest.mark.django_db
def test_combining_querysets_keeps_the_scope_only_when_every_part_has_it(tenant, other_tenant):
    from accounts.models import Member

    tenant.member("admin"), other_tenant.member("admin")
    mine = Member.objects.filter(organization=tenant.org)
    with pytest.raises(UnscopedQuery):
        list(mine | Member.objects.filter(role="admin"))
    with pytest.raises(UnscopedQuery):
        list(mine.union(Member.objects.all()))
    with pytest.raises(UnscopedQuery):
        list(mine ^ Member.objects.filter(role="admin"))
    assert len(mine | Member.objects.filter(organization=other_tenant.org)) == 2
    assert len(mine.intersection(Member.objects.filter(organization=other_tenant.org))) == 0
    assert list(mine.difference(Member.objects.filter(organization=other_tenant.org))) == list(mine)
    assert list(Member.objects.none()) == []


@pytest.mark.django_db
def test_a_subquery_of_organizations_does_not_scope(tenant, other_tenant):
    from accounts.models import Member, Organization

    tenant.member("admin"), other_tenant.member("admin")
    with pytest.raises(UnscopedQuery):
        Member.objects.filter(organization__in=Organization.objects.all()).count()
    assert Member.objects.filter(organization__in=[tenant.org]).count() == 1

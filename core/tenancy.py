"""The tenancy rule in code: tenant rows carry organization and livemode, and every query of them
starts from the request's principal.

Fail closed (as PostHog's team-scoped managers do): a tenant model's default manager, ``objects``,
refuses to run a query that names no organization (``UnscopedQuery``, naming the model) instead of
answering with every tenant's rows. A query is scoped by a filter naming organizations (``organization`` or
``organization_id`` equal to one, or in a list of them: ``for_principal`` and ``for_organization`` do it;
``organization__isnull`` or a subquery do not), or by coming from an object that was (``member.api_keys``,
a prefetch). The few places that need every tenant (the credential lookup that
finds the organization, housekeeping, platform staff in the console) say so: ``Model.unscoped``."""

from django.db import models


class UnscopedQuery(Exception):
    """A query of tenant data that names no organization: a bug, never an answer with every tenant's rows."""


def _scoping_lookups(*fields):
    """The filter keywords that name organizations: equality or membership, nothing that matches many
    (``organization__isnull``, ``organization__name__contains`` and the like do not scope)."""
    return frozenset(f"{field}{suffix}" for field in fields for suffix in ("", "__exact", "__in"))


class TenantQuerySet(models.QuerySet):
    scoping_lookups = _scoping_lookups("organization", "organization_id", "organization__pk", "organization__id")
    _tenant_scoped = False

    def for_principal(self, principal):
        """Only the rows of the principal's organization and mode (test or live)."""
        return self.filter(organization_id=principal.organization_id, livemode=principal.livemode)

    def for_organization(self, organization):
        """The rows of one organization, both modes (organization-wide work: members, deletion)."""
        return self.filter(organization=organization)

    def unscoped(self):
        """Every tenant's rows, on purpose."""
        clone = self._chain()
        clone._tenant_scoped = True
        return clone

    # Scope tracking: set by a filter on the organization, kept through chaining.

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def _filter_or_exclude_inplace(self, negate, args, kwargs):
        if not negate and any(key in self.scoping_lookups and not isinstance(value, models.QuerySet)
                              for key, value in kwargs.items()):
            self._tenant_scoped = True
        super()._filter_or_exclude_inplace(negate, args, kwargs)

    def none(self):
        empty = super().none()
        empty._tenant_scoped = True  # no rows: nobody's
        return empty

    # Combined querysets: a union is scoped only if every part is; an intersection if any part is.

    def _is_scoped(self):
        return self._tenant_scoped or "instance" in self._hints

    def __or__(self, other):
        combined = super().__or__(other)
        combined._tenant_scoped = self._is_scoped() and getattr(other, "_is_scoped", lambda: False)()
        return combined

    def __xor__(self, other):
        combined = super().__xor__(other)
        combined._tenant_scoped = self._is_scoped() and getattr(other, "_is_scoped", lambda: False)()
        return combined

    def _combinator_query(self, combinator, *other_qs, all=False):
        combined = super()._combinator_query(combinator, *other_qs, all=all)
        parts = [self, *other_qs]
        scoped = [getattr(part, "_is_scoped", lambda: False)() for part in parts]
        combined._tenant_scoped = (any(scoped) if combinator == "intersection"
                                   else scoped[0] if combinator == "difference" else False not in scoped)
        return combined

    def _check_scoped(self):
        # A related manager's query (member.api_keys, a prefetch) carries the object it came from as a hint.
        if not self._is_scoped():
            raise UnscopedQuery(
                f"A query of {self.model._meta.label} names no organization: start from the principal "
                f"(.for_principal / .for_organization), or use {self.model.__name__}.unscoped on purpose.")

    def __repr__(self):
        if not self._is_scoped():
            return f"<{type(self).__name__} of {self.model._meta.label}, not scoped to an organization>"
        return super().__repr__()

    # Everything that runs the query checks first.

    def _fetch_all(self):
        if self._result_cache is None:
            self._check_scoped()
        super()._fetch_all()

    def _iterator(self, use_chunked_fetch, chunk_size):
        self._check_scoped()
        return super()._iterator(use_chunked_fetch, chunk_size)

    def count(self):
        if self._result_cache is None:
            self._check_scoped()
        return super().count()

    def exists(self):
        if self._result_cache is None:
            self._check_scoped()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scoped()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._check_scoped()
        return super().update(**kwargs)

    def delete(self):
        self._check_scoped()
        return super().delete()

    def in_bulk(self, *args, **kwargs):
        self._check_scoped()
        return super().in_bulk(*args, **kwargs)

    def explain(self, *args, **kwargs):
        self._check_scoped()
        return super().explain(*args, **kwargs)


def every_tenant(queryset):
    """``queryset`` over every organization (platform staff in the console): a tenant queryset unscoped on
    purpose, any other as it is."""
    return queryset.unscoped() if isinstance(queryset, TenantQuerySet) else queryset


class _UnscopedManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().unscoped()


def tenant_managers(queryset_class=TenantQuerySet):
    """``(objects, unscoped)`` for a tenant model: the fail-closed default and the named way around it."""
    return queryset_class.as_manager(), _UnscopedManager.from_queryset(queryset_class)()


class TenantModel(models.Model):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    livemode = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects, unscoped = tenant_managers()

    class Meta:
        abstract = True


def tenant_index(name):
    """The index every tenant list uses: filter on (organization, livemode), newest first."""
    return models.Index(fields=["organization", "livemode", "-created_at", "-id"], name=name)

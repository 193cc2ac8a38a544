from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from oauth2_provider.models import AbstractApplication

from accounts import scopes as scope_registry
from accounts.ids import PublicIdField
from accounts.tenancy import TenantModel, TenantQuerySet, tenant_index


class EmailUserManager(UserManager):
    def _create_user(self, email, password, **extra_fields):
        email = self.normalize_email(email).lower()
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person. Email is the login; what they may do depends on their membership in each organization."""

    username = None
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = EmailUserManager()

    def __str__(self):
        return self.email


class Organization(models.Model):
    """The tenant."""

    id = PublicIdField(prefix="org")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class MemberQuerySet(models.QuerySet):
    def for_principal(self, principal):
        """Members belong to the organization as a whole, not to one mode."""
        return self.filter(organization_id=principal.organization_id)


class Member(models.Model):
    """A person's (or a service's) place in one organization, with one role.

    Members span both modes: the same people work with test and live data."""

    id = PublicIdField(prefix="mem")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships")
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=scope_registry.ROLE_CHOICES)
    # Only for Service members: the scopes granted to it (their role gives none by itself).
    granted_scopes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="member_unique_person"),
            models.CheckConstraint(
                condition=models.Q(role="service", user__isnull=True) | (~models.Q(role="service") & models.Q(user__isnull=False)),
                name="member_service_has_no_user",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at", "-id"], name="member_org_idx")]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.name or (self.user.email if self.user_id else self.id)

    @property
    def is_active(self):
        return self.user_id is None or self.user.is_active

    def max_scopes(self) -> frozenset:
        return scope_registry.role_scopes(self.role, self.granted_scopes)


class APIKeyQuerySet(TenantQuerySet):
    def usable(self, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class APIKey(TenantModel):
    """An API key. Only a lookup prefix, the last four characters and a SHA-256 digest are stored."""

    id = PublicIdField(prefix="key")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=24, db_index=True)
    last4 = models.CharField(max_length=4)
    digest = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rolled_to = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rolled_from")
    created_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)

    objects = APIKeyQuerySet.as_manager()

    class Meta:
        indexes = [tenant_index("apikey_tenant_idx")]

    def __str__(self):
        return f"{self.name} ({self.masked})"

    @property
    def masked(self):
        return f"{self.prefix}...{self.last4}"

    def status(self, now=None):
        now = now or timezone.now()
        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "active"


class OAuthApplication(AbstractApplication):
    """An OAuth 2.0 client of one organization and mode (django-oauth-toolkit's application model).

    People authorize it with the authorization code grant and PKCE; a service uses the client credentials
    grant and then acts as the application's own Service member, holding the application's scopes."""

    GRANT_CHOICES = [
        (AbstractApplication.GRANT_AUTHORIZATION_CODE, "Authorization code"),
        (AbstractApplication.GRANT_CLIENT_CREDENTIALS, "Client credentials"),
    ]

    id = PublicIdField(prefix="app")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="oauth_applications")
    livemode = models.BooleanField()
    grant_types = models.JSONField(default=list)
    allowed_scopes = models.JSONField(default=list)
    service_member = models.OneToOneField(Member, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="oauth_application")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        indexes = [tenant_index("oauthapp_tenant_idx")]

    def allows_grant_type(self, *grant_types):
        # Several grants per application, where django-oauth-toolkit keeps one; refresh tokens are
        # asked for with the grant that issued them, so this covers them too.
        return any(grant in self.grant_types for grant in grant_types)


class TokenSession(models.Model):
    """One JWT sign-in: its refresh tokens rotate, its access tokens come and go, and revoking it (logout)
    ends them all. Carried in every token as the ``sid`` claim."""

    id = PublicIdField(prefix="ses")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="token_sessions")
    livemode = models.BooleanField()
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

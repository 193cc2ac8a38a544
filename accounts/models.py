import hashlib
import secrets
import time
from base64 import b32encode
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models, transaction
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from oauth2_provider.models import AbstractApplication

from core import scopes as scope_registry
from core.ids import PublicIdField
from core.tenancy import TenantModel, TenantQuerySet, tenant_index, tenant_managers
from keystore import EncryptedTextField


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
    # Sentry's "require 2FA": every member must have a second factor, not only Admins.
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class MemberQuerySet(TenantQuerySet):
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

    objects, unscoped = tenant_managers(MemberQuerySet)

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

    objects, unscoped = tenant_managers(APIKeyQuerySet)

    class Meta:
        verbose_name = "API key"
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


class OAuthApplicationQuerySet(TenantQuerySet):
    # django-oauth-toolkit finds an application by its client_id, unique across tenants, as the credential
    # door finds a key by its prefix: the organization follows from it.
    scoping_lookups = TenantQuerySet.scoping_lookups | {"client_id", "client_id__exact", "client_id__in"}


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

    objects, unscoped = tenant_managers(OAuthApplicationQuerySet)

    class Meta(AbstractApplication.Meta):
        verbose_name = "OAuth application"
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
    # When its newest refresh token was issued: a session not refreshed for the refresh lifetime has no
    # live token left, and the cleanup deletes it.
    refreshed_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)


# Second factors: django-otp device plugins of our own, so that TOTP secrets are encrypted at rest and
# backup codes are kept only as salted hashes (django-otp's own plugins store both in plaintext).
def new_totp_secret() -> str:
    return secrets.token_hex(20)  # 160 bits, as RFC 4226 recommends


class AuthenticatorDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (TOTP, RFC 6238), its secret encrypted. The algorithm is django-otp's
    (django_otp.oath.TOTP); this model only keeps its state."""

    key = EncryptedTextField(default=new_totp_secret)  # hex
    step = models.PositiveSmallIntegerField(default=30)
    digits = models.PositiveSmallIntegerField(default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)  # one 30 s step either way, no more
    last_t = models.BigIntegerField(default=-1)  # the next code must be of a later step: no replay

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    @property
    def bin_key(self):
        return bytes.fromhex(self.key)

    def get_throttle_factor(self):
        # django-otp's setting: after n wrong codes, 2**(n-1) times this many seconds before another try
        return settings.OTP_TOTP_THROTTLE_FACTOR

    def _totp(self):
        totp = TOTP(self.bin_key, self.step, 0, self.digits, 0)
        totp.time = time.time()
        return totp

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()  # back-off after wrong codes (ThrottlingMixin)
        if not allowed:
            return False
        token = str(token).strip()
        totp = self._totp()
        if token.isascii() and token.isdigit() and len(token) == self.digits and totp.verify(int(token), self.tolerance, self.last_t + 1):
            self.last_t = totp.t()
            self.throttle_reset(commit=False)
            self.set_last_used_timestamp(commit=False)
            self.save()
            return True
        self.throttle_increment(commit=True)
        return False

    def config_url(self, issuer="Open PaaS"):
        """The otpauth:// URL an authenticator app reads from the QR code."""
        label = quote(f"{issuer}:{self.user.email}")
        query = urlencode({"secret": b32encode(self.bin_key).decode(), "issuer": issuer, "algorithm": "SHA1",
                           "digits": self.digits, "period": self.step})
        return f"otpauth://totp/{label}?{query}"


BACKUP_CODE_COUNT = 10


def _backup_code_digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def normalize_backup_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


class BackupCodeDevice(TimestampMixin, ThrottlingMixin, Device):
    """Ten single-use codes for when the authenticator is lost. Only salted SHA-256 digests are kept;
    each code holds 60 random bits."""

    salt = models.CharField(max_length=32, default=secrets.token_hex)
    code_digests = models.JSONField(default=list)

    class Meta(Device.Meta):
        verbose_name = "backup codes"

    def generate(self):
        """New codes, replacing any left; returns them (shown once)."""
        alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
        codes = ["".join(secrets.choice(alphabet) for _ in range(12)) for _ in range(BACKUP_CODE_COUNT)]
        self.salt = secrets.token_hex(16)
        self.code_digests = [_backup_code_digest(self.salt, code) for code in codes]
        return [f"{c[:4]}-{c[4:8]}-{c[8:]}" for c in codes]

    @property
    def remaining(self):
        return len(self.code_digests)

    def get_throttle_factor(self):
        return settings.OTP_TOTP_THROTTLE_FACTOR

    def verify_token(self, token):
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        digest = _backup_code_digest(self.salt, normalize_backup_code(str(token)))
        with transaction.atomic():
            # Locked, so the same code cannot be spent twice by two concurrent requests.
            device = type(self).objects.select_for_update().get(pk=self.pk)
            if digest in device.code_digests:
                device.code_digests = [d for d in device.code_digests if d != digest]
                device.throttle_reset(commit=False)
                device.set_last_used_timestamp(commit=False)
                device.save()
                self.code_digests = device.code_digests
                return True
        self.throttle_increment(commit=True)
        return False


class UserSession(models.Model):
    """A browser session as its owner sees it on the account security page (address, browser, last
    activity), so they can end it. The session itself lives in Django's session store."""

    session_key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="browser_sessions")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_activity = models.DateTimeField(auto_now_add=True)


class Invitation(models.Model):
    """An Admin's invitation of a person, by email, to join with a role. Single use, valid 7 days; only
    a SHA-256 digest of the link's token is stored."""

    id = PublicIdField(prefix="inv")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=scope_registry.ROLE_CHOICES)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    sent_count = models.PositiveSmallIntegerField(default=1)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects, unscoped = tenant_managers(MemberQuerySet)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at", "-id"], name="invitation_org_idx")]

    def status(self, now=None):
        now = now or timezone.now()
        if self.accepted_at:
            return "accepted"
        if self.cancelled_at:
            return "cancelled"
        return "expired" if self.expires_at <= now else "pending"


class AccessReview(models.Model):
    """A periodic review of who holds access to an organization: each member and service credential is
    kept, changed or revoked, with a note; completing the review applies the decisions."""

    id = PublicIdField(prefix="rev")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="access_reviews")
    started_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Who started and completed it, as they were then: the evidence outlives the members (the foreign keys
    # above are emptied when a member is removed).
    started_by_label = models.CharField("started by", max_length=254, blank=True)
    started_by_member_id = models.CharField("started by (member id)", max_length=40, blank=True)
    completed_by_label = models.CharField("completed by", max_length=254, blank=True)
    completed_by_member_id = models.CharField("completed by (member id)", max_length=40, blank=True)

    objects, unscoped = tenant_managers(MemberQuerySet)

    def __str__(self):
        return f"Access review of {self.organization} due {self.due_date}"

    @property
    def is_overdue(self):
        return self.completed_at is None and self.due_date < timezone.localdate()


class AccessReviewItem(models.Model):
    KEEP, CHANGE_ROLE, REVOKE = "keep", "change_role", "revoke"
    DECISIONS = [(KEEP, "Keep"), (CHANGE_ROLE, "Change role"), (REVOKE, "Revoke")]
    MEMBER, CREDENTIAL = "member", "credential"
    KINDS = [(MEMBER, "Member"), (CREDENTIAL, "Credential")]

    review = models.ForeignKey(AccessReview, on_delete=models.CASCADE, related_name="items")
    member = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    api_key = models.ForeignKey(APIKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # What the reviewer saw, kept as it was when the review started. ``kind`` is stored, not read from
    # ``api_key``: that link is emptied when the key is deleted, and the entry is still a credential's.
    kind = models.CharField(max_length=20, choices=KINDS, default=MEMBER)
    subject = models.CharField(max_length=254)
    role = models.CharField(max_length=20)
    scopes = models.JSONField(default=list)
    last_login = models.DateTimeField(null=True, blank=True)
    last_key_use = models.DateTimeField(null=True, blank=True)
    mfa_enabled = models.BooleanField(default=False)
    key_age_days = models.PositiveIntegerField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=DECISIONS, blank=True)
    new_role = models.CharField(max_length=20, choices=scope_registry.ROLE_CHOICES, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    decided_by = models.ForeignKey(Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_by_label = models.CharField("decided by", max_length=254, blank=True)  # kept when the member goes
    decided_by_member_id = models.CharField("decided by (member id)", max_length=40, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.subject

    @property
    def is_credential(self):
        return self.kind == self.CREDENTIAL

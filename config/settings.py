"""Open PaaS settings: one module, read from the environment.

Embedded defaults (SQLite, local-memory cache, a generated key file) need no server. Production sets
DATABASE_URL, REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and OPENPAAS_MASTER_KEY (or OPENPAAS_KEY_FILE).
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Local state that must never be committed (generated secrets) lives outside the repository.
STATE_DIR = Path(os.environ.get("OPENPAAS_STATE_DIR", Path.home() / ".local" / "share" / "openpaas"))


def _generated_secret(filename, generate=lambda: secrets.token_urlsafe(50)):
    """Read a development secret from the state directory, creating it (mode 0600) on first use."""
    path = STATE_DIR / filename
    if not path.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(generate())
    return path.read_text().strip()


def _new_rsa_private_key_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY") or _generated_secret("django-secret-key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.messages",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "rest_framework_simplejwt.token_blacklist",
    "django_otp",
    "axes",
    "accounts",
    "keystore",
    "audit",
    "connectors",
    "webhooks",
    "idempotency",
    "csp",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",
    # Starts the cache round trip of an API request's authentication, so it runs while the rest works.
    "accounts.auth.read_ahead.CredentialReadAheadMiddleware",
    # Outside everything that may answer early (413, a refused NUL, a bad host), so every response has them.
    "core.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    "core.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.CommonMiddleware",  # Django's; a program's write never redirected for a slash
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.web.sessions.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite, the embedded default, serving a small team from several processes: a transaction that reads
    # and then writes cannot wait for the write lock (SQLite answers "database is locked" at once rather than
    # risk a deadlock), so every transaction takes it when it begins; WAL lets reads go on beside the one
    # writer; a busy writer is waited for up to 20 s instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "openpaas",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # counts failures and refuses locked-out sign-ins
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login"
LOGIN_REDIRECT_URL = "/account"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Where people reach the platform: the base of links in emails (invitations).
OPENPAAS_PUBLIC_URL = os.environ.get("OPENPAAS_PUBLIC_URL", "http://127.0.0.1:8000")

# Email: SMTP when EMAIL_HOST is set, else printed to the console (development).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = ("django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
                 else "django.core.mail.backends.console.EmailBackend")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Open PaaS <no-reply@openpaas.local>")

# Request bodies above this size are answered 413 before they are read.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("OPENPAAS_MAX_BODY_BYTES", str(1024 * 1024)))

# Transport and headers.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Served over HTTPS (directly, or behind a proxy that ends TLS) whenever DEBUG is off: plain HTTP is
# redirected to HTTPS (but the health probes, which load balancers send over plain HTTP), and cookies go only
# over HTTPS and carry the __Host- prefix (which browsers accept only with Secure, Path=/ and no Domain).
# OPENPAAS_HTTPS=false is for a test server on plain HTTP (the test suite, the SDK's tests, the benchmark):
# `manage.py check --deploy` warns about it.
OPENPAAS_HTTPS = env_bool("OPENPAAS_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = OPENPAAS_HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = OPENPAAS_HTTPS
CSRF_COOKIE_SECURE = OPENPAAS_HTTPS
SESSION_COOKIE_NAME = "__Host-sessionid" if OPENPAAS_HTTPS else "sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken" if OPENPAAS_HTTPS else "csrftoken"
SESSION_COOKIE_PATH = "/"
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_PATH = "/"
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # no script of ours reads it: forms carry the token
# Sessions end after 30 idle minutes (the expiry moves with every request) and 12 hours after sign-in
# whatever the activity (accounts.web.sessions.SessionPolicyMiddleware).
SESSION_COOKIE_AGE = int(os.environ.get("OPENPAAS_SESSION_IDLE_SECONDS", str(30 * 60)))
SESSION_SAVE_EVERY_REQUEST = True
OPENPAAS_SESSION_ABSOLUTE_SECONDS = int(os.environ.get("OPENPAAS_SESSION_ABSOLUTE_SECONDS", str(12 * 3600)))
# Sensitive actions (keys, roles, second factors, password) need a password or code confirmed this recently.
OPENPAAS_SUDO_SECONDS = 10 * 60
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "core.errors.csrf_failure"  # our 403 page, not Django's (inline style, the reason shown)
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("OPENPAAS_HSTS_PRELOAD", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("OPENPAAS_BEHIND_PROXY") else None

# Content-Security-Policy (django-csp) on every response: scripts and styles only from this server's own
# files (no inline style or script; a script that must be inline carries nonce="{{ request.csp_nonce }}"),
# nothing framed or framing, forms posting only here. The OAuth consent page also lets its form go on to
# the application's registered redirect URI (core.csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'", NONCE],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # the docs' icons are data: URIs in their stylesheet
        "font-src": ["'self'"],
        "connect-src": ["'self'"],  # the docs fetch the schema and try requests
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Permissions-Policy (django-permissions-policy): every powerful feature denied; the pages use none of
# them. Clipboard writing stays for this origin, for the docs' "copy" buttons.
PERMISSIONS_POLICY = {
    feature: [] for feature in (
        "accelerometer", "autoplay", "bluetooth", "browsing-topics", "camera", "clipboard-read", "display-capture",
        "encrypted-media", "fullscreen", "gamepad", "geolocation", "gyroscope", "hid", "identity-credentials-get",
        "idle-detection", "local-fonts", "magnetometer", "microphone", "midi", "otp-credentials", "payment",
        "picture-in-picture", "publickey-credentials-create", "publickey-credentials-get", "screen-wake-lock",
        "serial", "storage-access", "usb", "web-share", "window-management", "xr-spatial-tracking",
    )
} | {"clipboard-write": ["self"]}
# Client addresses are taken from X-Forwarded-For only when the direct peer is one of these networks.
OPENPAAS_TRUSTED_PROXIES = env_list("OPENPAAS_TRUSTED_PROXIES")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.auth.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsPrincipal", "api.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.auth.throttling.PrincipalRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "credential": os.environ.get("OPENPAAS_RATE_PER_CREDENTIAL", "100/s"),
        "organization": os.environ.get("OPENPAAS_RATE_PER_ORGANIZATION", "300/s"),
        "sign_in": os.environ.get("OPENPAAS_RATE_SIGN_IN", "30/m"),
        # Refusals (failed authentication, denied requests): core.gate.refuse.
        "refused_address": os.environ.get("OPENPAAS_RATE_REFUSED_PER_ADDRESS", "60/m"),
        "refused_credential": os.environ.get("OPENPAAS_RATE_REFUSED_PER_CREDENTIAL", "20/m"),
    },
    "DEFAULT_PARSER_CLASSES": ["api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": None,
    "DEFAULT_METADATA_CLASS": None,  # no OPTIONS introspection: 405
    "DEFAULT_SCHEMA_CLASS": "api.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Open PaaS API",
    "DESCRIPTION": "Connectors, workflows, data and webhooks, behind API keys scoped per role.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
# Schema and docs are public only when asked for (or in DEBUG); otherwise any valid credential reads them.
OPENPAAS_PUBLIC_DOCS = env_bool("OPENPAAS_PUBLIC_DOCS", DEBUG)

# Keystore: the master key comes from OPENPAAS_MASTER_KEY (urlsafe base64 of 32 bytes) or a key file.
OPENPAAS_MASTER_KEY = os.environ.get("OPENPAAS_MASTER_KEY")
OPENPAAS_KEY_FILE = Path(os.environ.get("OPENPAAS_KEY_FILE", STATE_DIR / "master.key"))

# The kinds of bearer credential the API accepts, each recognised by its shape.
OPENPAAS_CREDENTIAL_LOADERS = [
    "accounts.auth.authentication.APIKeyLoader",
    "accounts.auth.oauth.OAuthTokenLoader",
    "accounts.auth.jwt.JWTLoader",
]
# What the framework (core, api, console) calls in the apps, named here rather than imported (.importlinter).
OPENPAAS_AUDIT_RECORDER = "audit.record"
# Idempotency-Key: a claim whose request has not finished after this long (its worker died) is taken over.
OPENPAAS_IDEMPOTENCY_LOCK_SECONDS = int(os.environ.get("OPENPAAS_IDEMPOTENCY_LOCK_SECONDS", "60"))
# API keys: how often last-used time and address are written, at most.
OPENPAAS_KEY_LAST_USED_INTERVAL = 60
# Resolved API keys are kept in each process this long at most (0 = off), and dropped at once when their
# organization's access changes. That needs a cache every process shares, so it is on with Redis only.
OPENPAAS_CREDENTIAL_CACHE_SECONDS = int(os.environ.get("OPENPAAS_CREDENTIAL_CACHE_SECONDS", "60" if REDIS_URL else "0"))
OPENPAAS_WEBHOOK_ALLOW_HTTP = DEBUG

# OAuth 2.0 and OpenID Connect (django-oauth-toolkit), with every RFC 9700 (OAuth security BCP) gate on:
# no implicit or password grants, PKCE with S256 only, refresh tokens rotated with reuse detection,
# tokens stored only as SHA-256 checksums, exact redirect URIs.
OAUTH2_PROVIDER_APPLICATION_MODEL = "accounts.OAuthApplication"
OAUTH2_PROVIDER = {
    "SCOPES": {"openid": "Sign you in with your Open PaaS account"},  # the API scopes are added in accounts.auth.oauth
    "DEFAULT_SCOPES": ["openid"],
    "OAUTH2_VALIDATOR_CLASS": "accounts.auth.oauth.OrganizationOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "accounts.auth.oauth.RegistryScopes",
    "ACCESS_TOKEN_GENERATOR": "accounts.auth.oauth.new_access_token",
    "REFRESH_TOKEN_GENERATOR": "accounts.auth.oauth.new_refresh_token",
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("OPENPAAS_OAUTH_ACCESS_TOKEN_SECONDS", "3600")),
    "REFRESH_TOKEN_EXPIRE_SECONDS": int(os.environ.get("OPENPAAS_OAUTH_REFRESH_TOKEN_SECONDS", str(30 * 86400))),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ID_TOKEN_EXPIRE_SECONDS": 3600,
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http"] if DEBUG else ["https"],
    "REQUEST_APPROVAL_PROMPT": "force",
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": os.environ.get("OPENPAAS_OIDC_RSA_PRIVATE_KEY") or _generated_secret("oidc-rsa.pem", _new_rsa_private_key_pem),
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OIDC_RESPONSE_TYPES_SUPPORTED": ["code"],
    # Public clients (PKCE, no secret) authenticate with "none"; the discovery documents say so.
    "OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["client_secret_basic", "client_secret_post", "none"],  # the OIDC discovery document lists only what is accepted
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
}

# JWT (simplejwt): HS256 only, under a key of its own (never SECRET_KEY), with audience and issuer.
SIMPLE_JWT = {
    "ALGORITHM": "HS256",
    "SIGNING_KEY": os.environ.get("OPENPAAS_JWT_SIGNING_KEY") or _generated_secret("jwt-signing-key"),
    "AUDIENCE": "openpaas-api",
    "ISSUER": os.environ.get("OPENPAAS_JWT_ISSUER", "openpaas"),
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("OPENPAAS_JWT_ACCESS_SECONDS", "900"))),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=int(os.environ.get("OPENPAAS_JWT_REFRESH_SECONDS", str(7 * 86400)))),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "USER_ID_CLAIM": "user_id",
    "LEEWAY": 0,
}

# Wrong second-factor codes back off: after n of them, 2**(n-1) seconds before another try (django-otp).
OTP_TOTP_THROTTLE_FACTOR = 1

# Brute force (django-axes): an account is locked after AXES_FAILURE_LIMIT failures from one address, and
# after AXES_ACCOUNT_FAILURE_LIMIT from all addresses together (accounts.auth.attempts.LockoutHandler), until the
# cool-off has passed; the client address only from a trusted proxy.
AXES_HANDLER = "accounts.auth.attempts.LockoutHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("OPENPAAS_LOCKOUT_FAILURES", "5"))
AXES_ACCOUNT_FAILURE_LIMIT = int(os.environ.get("OPENPAAS_LOCKOUT_ACCOUNT_FAILURES", "20"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("OPENPAAS_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "accounts.auth.attempts.axes_username"  # lower-cased, as sign-in looks people up
AXES_CLIENT_IP_CALLABLE = "core.middleware.client_ip_of_request"
AXES_RESET_ON_SUCCESS = True
# A lockout answers like the rest: the API's JSON error (429, Retry-After), the sign-in page for browsers.
AXES_LOCKOUT_CALLABLE = "accounts.web.signin.lockout_response"
# Masked in what django-axes stores of a failed request (its POST data): every field of ours that can hold
# a password or a code (sudo's "secret", the second step's "code", the password forms).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp", "otp_token", "code", "secret", "old_password", "new_password1",
                             "new_password2", "confirm", "csrfmiddlewaretoken"]
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIDLogFilter"},
                "credentials": {"()": "core.logs.CredentialLogFilter"}},
    "formatters": {
        "plain": {"()": "core.logs.OneLineFormatter", "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "credentials"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's default handlers (its console under DEBUG) would print its records a second time, unfiltered.
        "django": {"handlers": [], "level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": True},
        # Django's own request logger would print 4xx noise; our error handler logs what matters.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # runserver's request lines through the same handler: a credential in a URL is masked there too.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

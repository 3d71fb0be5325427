"""Settings, read from the environment (see README, "Configuration").

Every value that differs between a laptop and production comes from an environment variable;
the defaults give a working local install with an embedded SQLite database under ``var/``.
"""

import datetime as dt
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from crm.errors import DomainError
from crm.parsing import parse_boolean

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("CRM_VAR_DIR", BASE_DIR / "var"))


# The words of environment switches (README, "Configuration"): on/off, not the doors' y/n.
ENV_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
ENV_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_boolean(
            raw, field=name, true_words=ENV_TRUE_WORDS, false_words=ENV_FALSE_WORDS
        )
    except DomainError:
        raise ImproperlyConfigured(
            f"{name} must be a boolean (1/0, true/false), not {raw!r}"
        ) from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def local_secret_key() -> str:
    """A random key kept in var/ so that a local install needs no configuration.

    Production sets SECRET_KEY so that every process shares one key.
    """
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG", default=False)
SECRET_KEY = os.environ.get("SECRET_KEY") or local_secret_key()
if len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "crm.apps.CrmAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "crm",
    "customers",
    "loyalty",
]

MIDDLEWARE = [
    "crm.middleware.RequestIdMiddleware",
    "crm.middleware.NulInQueryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm.middleware.ApiProblemMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "crm.config.urls"
WSGI_APPLICATION = "crm.config.wsgi.application"
ASGI_APPLICATION = "crm.config.asgi.application"
AUTH_USER_MODEL = "crm.User"

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
            ],
        },
    },
]

# DATABASE_URL: postgres://user:password@host:5432/name, or sqlite:///path (the default).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'crm.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Nothing is prepared automatically (the threshold is never reached), but the few hot
    # key-lookup queries that ask for it are (crm.db.prepared_cursor). Behind PgBouncer, use
    # version 1.21 or later, which keeps prepared statements in transaction pooling.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers; IMMEDIATE transactions wait for the lock instead of failing
    # halfway through with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
# A dead Redis refuses at once, a hanging one must not stall requests: every Redis client of the
# product (cache, rate limiter, health check, broker) gives up after these many seconds.
REDIS_SOCKET_TIMEOUTS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_SOCKET_TIMEOUTS,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Request bodies of the API and the vendor doors (crm.api.guards): larger ones are refused with
# 413 before they are read. A batch of 100 customers, each with accounts, identifiers, channels,
# enrolments and custom fields, is ~100-300 KB; 2 MiB leaves room for large custom fields.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.ApiKeyAuthentication",
        "crm.api.authentication.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "crm.api.authentication.ActsForAnOrganization",
        "crm.api.permissions.StaffModelPermissions",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.OrganizationRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.CursorPage",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "crm.api.problems.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "crm.api.parsers.JSONParser",
        "crm.api.parsers.FormParser",
        "crm.api.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Loyalty CRM API",
    "DESCRIPTION": (
        "Customers, identifiers, channels, points, stamp cards and coupons of one organization. "
        "Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457 problem "
        "details; POSTs accept an `Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm.api.schema.add_problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.choices.CustomerStatus",
        "CardStatusEnum": "loyalty.choices.CardStatus",
        "IdentifierTypeEnum": "customers.choices.IdentifierType.values",
        "ChannelTypeEnum": "customers.choices.ChannelType.values",
        "SourceEnum": "customers.choices.Source.values",
        "BatchItemStatusEnum": ["created", "updated", "unchanged", "failed"],
        "PointsKindEnum": "loyalty.choices.PointsKind",
        "EarningKindEnum": "loyalty.choices.EarningKind",
    },
}

# Background work (crm/config/celery.py, crm/background.py). Inline, jobs run in the web process
# once the request's transaction commits; otherwise they go through the broker at REDIS_URL to a
# worker.
BACKGROUND_INLINE = env_bool("BACKGROUND_INLINE", default=DEBUG or not REDIS_URL)
if not BACKGROUND_INLINE and not REDIS_URL:
    raise ImproperlyConfigured("BACKGROUND_INLINE=0 needs a broker: set REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = BACKGROUND_INLINE
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# Above the worker's one-second BRPOP poll, so that only a broker that stopped answering times out.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 2}
CELERY_BEAT_SCHEDULE = {
    "expire-points": {"task": "loyalty.tasks.points_expire_task", "schedule": 3600.0},
    "renew-tiers": {"task": "loyalty.tasks.tiers_renew_task", "schedule": 86400.0},
    "activate-pending-points": {
        "task": "loyalty.tasks.points_activate_task",
        "schedule": 3600.0,
    },
    "purge-idempotency-keys": {"task": "crm.tasks.idempotency_keys_purge_task", "schedule": 3600.0},
    "send-pending-jobs": {"task": "crm.tasks.pending_jobs_send_task", "schedule": 60.0},
}

# Absolute links to public pages (card pages, wallet passes) in emails, SMS and API replies.
# Unset, the development server's own address: PORT is the one `make run PORT=...` serves on.
PUBLIC_BASE_URL = (
    os.environ.get("PUBLIC_BASE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or '8000'}"
).rstrip("/")

# Card links by SMS: a class with send(to, body). The default writes to the log.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "loyalty.sms.LogSmsBackend")
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "loyalty@localhost")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=True)

# Wallet passes. Without these, both wallet links lead to the card's own web page.
APPLE_WALLET_PASS_TYPE_ID = os.environ.get("APPLE_WALLET_PASS_TYPE_ID", "")
APPLE_WALLET_TEAM_ID = os.environ.get("APPLE_WALLET_TEAM_ID", "")
APPLE_WALLET_CERTIFICATE = os.environ.get("APPLE_WALLET_CERTIFICATE", "")  # PEM file
APPLE_WALLET_KEY = os.environ.get("APPLE_WALLET_KEY", "")  # PEM file
APPLE_WALLET_KEY_PASSWORD = os.environ.get("APPLE_WALLET_KEY_PASSWORD", "")
APPLE_WALLET_WWDR_CERTIFICATE = os.environ.get("APPLE_WALLET_WWDR_CERTIFICATE", "")  # PEM file
GOOGLE_WALLET_ISSUER_ID = os.environ.get("GOOGLE_WALLET_ISSUER_ID", "")
GOOGLE_WALLET_SERVICE_ACCOUNT_FILE = os.environ.get("GOOGLE_WALLET_SERVICE_ACCOUNT_FILE", "")

# Admin logins (docs/security.md). django-axes counts failed logins per user name and client
# address together: five in a row lock that pair out for 15 minutes, so a guesser cannot go on,
# and cannot lock a staff member out from another address either. A success clears the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = dt.timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "crm.client_address.client_ip"
AXES_VERBOSE = False
# How many proxies in front of the product append to X-Forwarded-For. 0: the client is the peer
# of the connection. Set it only behind such proxies, or clients could pick their address.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Two-factor login (crm/two_factor.py): superusers and supervisors need a TOTP device to use
# the admin when this is on; anyone with a device is asked for its code either way.
STAFF_2FA_REQUIRED = env_bool("STAFF_2FA_REQUIRED", default=False)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Loyalty CRM")

# Content-Security-Policy on every response (django-csp): scripts and styles only from the
# product's own static files, no inline code of any kind, no framing, no plugins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Swagger UI's and the admin's stylesheets draw icons as data: URLs.
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Transport security: on by default whenever DEBUG is off. Behind a proxy that terminates TLS,
# set TRUST_X_FORWARDED_PROTO=1; SECURE_SSL_REDIRECT=0 leaves the redirect to the proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Load balancers probe the health check over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Django gives its loggers a console handler of their own (with DEBUG on), and they pass
    # their records on to the root's too: each line came out twice, the autoreloader's first.
    "loggers": {"django": {"handlers": []}},
}

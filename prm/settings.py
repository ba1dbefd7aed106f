"""Settings, all from environment variables (twelve-factor).

The embedded default needs nothing: SQLite in the project folder, Celery tasks run eagerly,
email goes to the console. Production sets DATABASE_URL, SECRET_KEY, ALLOWED_HOSTS,
CELERY_BROKER_URL and CACHE_URL, and leaves DEBUG off; `manage.py check --deploy` passes then.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# A development key is used only when none is given; the prm.E001 check (prm/core/checks.py)
# refuses to start a non-DEBUG process with it, and `check --deploy` flags it too.
INSECURE_DEV_SECRET_KEY = "django-insecure-prm-development-key-never-use-in-production"  # noqa: S105  public by design
SECRET_KEY = os.environ.get("SECRET_KEY") or INSECURE_DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.sites",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "prm.core",
    "prm.accounts",
    "prm.partners",
    "prm.enablement",
    "prm.customers",
    "prm.deals",
    "prm.plans",
    "prm.usage",
    "prm.billing",
    "prm.incentives",
    "prm.notifications",
    "prm.operations",
    "prm.dashboards",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "prm.accounts.middleware.ManagerMfaRequiredMiddleware",
    "prm.core.csp.ContentSecurityPolicyMiddleware",
    # The acting user of audited changes (prm/core/audit.py): the signed-in user, or the API key's.
    "prm.core.audit.AuditContextMiddleware",
]

ROOT_URLCONF = "prm.urls"
WSGI_APPLICATION = "prm.wsgi.application"
SITE_ID = 1

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
                "prm.core.context_processors.portal",
                "prm.notifications.context_processors.notifications",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite: WAL lets readers run beside the one writer; IMMEDIATE transactions take the write
# lock up front so two writers queue on the busy timeout instead of failing mid-transaction.
SQLITE_PATH = os.environ.get("SQLITE_PATH", str(BASE_DIR / "db.sqlite3"))
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
# A real cache: allauth's login rate limits count failures in it (DummyCache would disable
# them). Local memory is per process; production with several processes sets CACHE_URL=redis://…
if os.environ.get("CACHE_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["CACHE_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Authentication -------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "prm.accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
# allauth's defaults, stated so the next reader sees them: failed logins are limited per IP
# and per account, password resets per email.
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "signup": "20/m/ip",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = os.environ.get("MFA_TOTP_ISSUER", "PRM portal")
# Channel managers see every partner's money: they must enrol in MFA before anything else.
# On whenever DEBUG is off; the demo (DEBUG on) leaves it off unless asked.
PRM_MFA_REQUIRED_FOR_MANAGERS = env_bool("MFA_REQUIRED_FOR_MANAGERS", not DEBUG)

# An ingestion request may carry 10,000 events; the body limit is checked while reading.
PRM_INGEST_MAX_BODY_BYTES = int(os.environ.get("INGEST_MAX_BODY_BYTES", str(20 * 1024 * 1024)))
PRM_INVITATION_TTL_DAYS = int(os.environ.get("INVITATION_TTL_DAYS", "7"))
PRM_VENDOR_NAME = os.environ.get("VENDOR_NAME", "Northwind Cloud")
# The portal's public address, for links in emails sent outside a request (invitations, alerts).
PRM_SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# The currency of the partner program's tier thresholds; revenue billed in other currencies is
# compared with them at the reference rates (partners.ExchangeRate).
PRM_PROGRAM_CURRENCY = os.environ.get("PROGRAM_CURRENCY", "USD").upper()
# How long an approved deal registration protects the prospect from other partners' registrations.
PRM_DEAL_PROTECTION_DAYS = int(os.environ.get("DEAL_PROTECTION_DAYS", "90"))
# Plan and commitment recommendations (prm/billing/recommendations.py) are made only when they save
# at least this percentage of what three months cost, and at least this amount in the customer's
# currency ("default" for any currency not named; a yen or a won is worth far less than a dollar).
PRM_RECOMMENDATION_MIN_SAVING_PERCENT = os.environ.get("RECOMMENDATION_MIN_SAVING_PERCENT", "5")
PRM_RECOMMENDATION_MIN_SAVING = {
    "default": os.environ.get("RECOMMENDATION_MIN_SAVING", "10"),
    "CLP": "10000", "HUF": "4000", "IDR": "150000", "INR": "800", "ISK": "1500", "JPY": "1500", "KRW": "15000",
    "VND": "250000",
}  # fmt: skip
# Outgoing webhooks POST to URLs partners enter: by default never into the portal's own network
# (loopback, private, link-local addresses). The demo (DEBUG) allows it, for a receiver on localhost.
PRM_WEBHOOK_ALLOW_PRIVATE_HOSTS = env_bool("WEBHOOK_ALLOW_PRIVATE_HOSTS", DEBUG)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The API key class comes first so that an unauthenticated request gets 401 with
    # `WWW-Authenticate: Bearer`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "prm.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "prm.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "prm.core.renderers.BrowsableAPIRenderer",
    ],
    # Errors are JSON: {"field": ["message"]} for invalid input, {"detail": "…"} otherwise.
    "EXCEPTION_HANDLER": "prm.core.errors.api_exception_handler",
    # Requests per API key (per person on the browser session, per address when anonymous).
    # Usage ingestion has its own, higher rate: a batch of up to 1,000 events is one request.
    "DEFAULT_THROTTLE_CLASSES": ["prm.core.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api": os.environ.get("API_THROTTLE_RATE", "1200/min"),
        "ingest": os.environ.get("API_INGEST_THROTTLE_RATE", "12000/min"),
        "anon": os.environ.get("API_ANON_THROTTLE_RATE", "60/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PRM portal API",
    "DESCRIPTION": "Partners, customers, usage, billing and commissions of the PRM portal.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # API docs' assets from our own static files, never a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation documents its error answers (400 naming fields, 401, 403, 404, 429).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "prm.core.api.document_error_responses",
    ],
}

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
# `celery -A prm beat`: periodic catch-ups; billing periods are closed by a person (close_period)
# once late usage has been dealt with, and that close accrues, states and evaluates tiers.
# Each entry's options mark its runs as scheduled, for the audit log ("schedule alerts_evaluate_task"):
# prm.celery.AuditedTask reads this header.
scheduled_run = {"headers": {"prm_origin": "schedule"}}
CELERY_BEAT_SCHEDULE = {
    "commissions-sync": {
        "task": "prm.operations.tasks.commissions_sync_task", "schedule": 15 * 60, "options": scheduled_run,
    },
    "partner-stages": {
        "task": "prm.operations.tasks.partner_stages_task", "schedule": 60 * 60, "options": scheduled_run,
    },
    "alerts-evaluate": {
        "task": "prm.operations.tasks.alerts_evaluate_task", "schedule": 15 * 60, "options": scheduled_run,
    },
    # Webhook retries (exponential backoff) fall due by the minute.
    "webhook-deliveries-retry": {
        "task": "prm.notifications.tasks.webhook_deliveries_retry_task", "schedule": 60, "options": scheduled_run,
    },
}  # fmt: skip

# --- Email ----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "PRM portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

# --- Internationalisation and time ----------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "prm.core.staticfinders.PackageFilesFinder",  # plotly.js from the plotly package
]
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
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "/media/"

DJANGO_TABLES2_TEMPLATE = "core/table.html"

# --- Security (production-safe whenever DEBUG is off) ---------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (prm/core/csp.py): everything from our own origin, no inline script.
PRM_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
# Swagger UI (local sidecar assets): drf-spectacular's template has an inline <style>; scripts stay 'self'.
PRM_CSP_PATH_OVERRIDES = {"/api/docs/": {"style-src": ["'self'", "'unsafe-inline'"]}}
PRM_CSP_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # gunicorn runs behind a TLS-terminating proxy that sets this header.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

"""Django settings, read from the environment.

Every deployment-specific value comes from an environment variable; a bad value
stops start-up with a message naming the variable. The embedded defaults
(SQLite file, in-process tasks) exist for the one-command demo and for tests;
production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY and ALLOWED_HOSTS.
See docs/configuration.md for the full list.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", False)

if DEBUG:
    # Only ever used by a developer's own machine; production must set its own.
    SECRET_KEY = env_str("SECRET_KEY", "insecure-debug-only-key-" + "x" * 40)
else:
    SECRET_KEY = env_str("SECRET_KEY")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the host(s) this site is served on.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "csp",
    "drf_spectacular_sidecar",
    "annotation",
]

MIDDLEWARE = [
    "annotation.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

_database_url = env_str("DATABASE_URL", "")
if not _database_url:
    # The embedded default: an SQLite file under var/ (demo and quick tests).
    _database_url = f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
try:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
if DATABASES["default"]["ENGINE"] not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL or an SQLite file.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database: worker processes started by the
    # tests must see the same data.
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # IMMEDIATE: a transaction takes SQLite's write lock when it begins, so
    # concurrent assignment requests serialise instead of over-assigning.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions hold only ids (the user, the rater of each study): a signed cookie
# saves a database read and write on every rater request.
# Sessions live in the database: logging out ends a session for good (a copied signed cookie
# would stay valid). Run `manage.py clearsessions` daily to drop expired ones.
SESSION_ENGINE = env_str("SESSION_ENGINE", "django.contrib.sessions.backends.db")
SESSION_COOKIE_HTTPONLY = True

# On PostgreSQL the task page's two calls run as a few hand-written statements
# (annotation/services/task_sql.py) before the ORM code, which handles every other case.
# Off: the ORM code alone, as on SQLite.
RATER_SQL_PATH = env_bool("RATER_SQL_PATH", True)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))

# Hashed, compressed static files need `collectstatic`; the demo and the tests
# serve the source files directly instead.
_static_backend = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if env_bool("STATIC_MANIFEST", not DEBUG)
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
# Without collectstatic (demo, tests) WhiteNoise serves from the app folders.
WHITENOISE_USE_FINDERS = _static_backend.startswith("django.")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _static_backend},
}

# Uploads: refuse huge request bodies early; images are checked again by the
# validators in annotation/images.py (format, pixel count, decompression bombs).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1)
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("FILE_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024, minimum=1)
MAX_IMAGE_PIXELS = env_int("MAX_IMAGE_PIXELS", 4096 * 4096, minimum=1)
# Request bodies, per endpoint (annotation/middleware.py answers 413 above these).
OUTPUTS_UPLOAD_MAX_BYTES = env_int("OUTPUTS_UPLOAD_MAX_BYTES", 1024**3, minimum=1)
EXPORT_UPLOAD_MAX_BYTES = env_int("EXPORT_UPLOAD_MAX_BYTES", 20 * 1024**2, minimum=1)
RATER_REQUEST_MAX_BYTES = env_int("RATER_REQUEST_MAX_BYTES", 64 * 1024, minimum=1)
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 10 * 1024**2, minimum=1)
# New crowd identities one client address may create per hour (services.crowd).
NEW_RATERS_PER_ADDRESS_PER_HOUR = env_int("NEW_RATERS_PER_ADDRESS_PER_HOUR", 30, minimum=1)
# Behind a proxy that appends the client's address to X-Forwarded-For (see docs).
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

# Celery: with no broker the tasks run in-process (the embedded demo default).
CELERY_TASK_ALWAYS_EAGER = env_str("CELERY_BROKER_URL", "") == ""
# The in-memory transport when eager, so nothing ever reaches for a network broker.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or "memory://"
# In-process runs retry like a worker (without the countdown) instead of raising.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Processes per worker; each gets cores // processes torch threads. Set it here
# rather than with --concurrency, so the thread split knows it.
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 1, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "editbench")
# An unacknowledged message (its worker was killed) is delivered again after this
# many seconds; it must exceed the longest batch. GENERATION_CLAIM_TIMEOUT must be
# shorter, so that the redelivered jobs can be reclaimed.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=1)
}
# Crowd participants are stored as HMAC(salt, platform id). Set it explicitly so
# that rotating SECRET_KEY does not give returning participants new identities.
PARTICIPANT_ID_SALT = env_str("PARTICIPANT_ID_SALT", "") or f"participant:{SECRET_KEY}"
# `celery -A config beat` re-enqueues jobs whose worker died and whose message was lost.
CELERY_BEAT_SCHEDULE = {
    "requeue-stale-generation-jobs": {
        "task": "annotation.tasks.requeue_stale_jobs",
        "schedule": 300.0,
    },
    "expire-leases": {"task": "annotation.tasks.expire_leases", "schedule": 300.0},
    # Studies with precision targets: raters finding nothing open also trigger a pass.
    "adaptive-refresh": {"task": "annotation.tasks.adaptive_refresh_studies", "schedule": 30.0},
}
GENERATION_BATCH_SIZE = env_int("GENERATION_BATCH_SIZE", 8, minimum=1)
GENERATION_CLAIM_TIMEOUT = env_int("GENERATION_CLAIM_TIMEOUT", 600, minimum=1)
GENERATION_MAX_ATTEMPTS = env_int("GENERATION_MAX_ATTEMPTS", 4, minimum=1)

REST_FRAMEWORK = {
    # Token first: an anonymous request then gets 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "annotation.apis.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EditBench Studio API",
    "DESCRIPTION": "Benchmarks, models, studies and results of EditBench Studio.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "annotation.api_schema.add_error_responses",
    ],
    # Swagger UI and Redoc from the installed sidecar package: /api/docs/ works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Content-Security-Policy (django-csp): scripts and styles from our own origin only, inline
# styles allowed (the pages' and the self-contained report's <style>), no inline script;
# forms may post only here and to MTurk's externalSubmit.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        # Redoc (the API docs) runs its search in a worker made from a blob.
        "worker-src": [SELF, "blob:"],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https://www.mturk.com", "https://workersandbox.mturk.com"],
    }
}

# Sign-in for internal raters and staff (Django's auth views, the app's templates).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# The study estimate (wizard and dashboard): pay per rater hour and its currency.
ESTIMATE_HOURLY_PAY = env_float("ESTIMATE_HOURLY_PAY", 12.0, minimum=0)
ESTIMATE_CURRENCY = env_str("ESTIMATE_CURRENCY", "GBP")

# Security headers; HTTPS-only settings default on outside DEBUG.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    # Only behind a proxy that sets this header itself (see docs/deployment.md).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # In-process (eager) runs would log every task; workers log through Celery's own setup.
    "loggers": {"celery.app.trace": {"level": "WARNING"}},
}

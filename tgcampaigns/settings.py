"""Settings for tgcampaigns, read from the environment (django-environ).

Embedded default: a SQLite file under ``var/`` (WAL, busy timeout, IMMEDIATE transactions) and the
django-q2 ORM broker. Production: ``DATABASE_URL=postgres://…`` and ``REDIS_URL=redis://…``.
"""

import os
from pathlib import Path

import environ

from tgcampaigns import secret_key

from .logcontext import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state (SQLite, media, logs); gitignored
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key is public (it is in this file): it only serves local runs with DEBUG on. With
# DEBUG off, a missing, default or weak key ends the process right here (sessions_app.E002, also a
# system check): every process loads these settings, with or without the checks (django-q2 signs
# its broker payloads, pickles, with this key: a known key lets anyone who can write to the broker
# run code). Only `makemigrations` runs without a key of one's own.
INSECURE_SECRET_KEY = "insecure-local-only-key-set-SECRET_KEY-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="") or INSECURE_SECRET_KEY
secret_key.refuse_an_insecure_key(SECRET_KEY, INSECURE_SECRET_KEY, DEBUG)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS, behind a proxy or not (README "Production"): off by default so a local run over plain
# HTTP works; a production .env turns them on and `check --deploy` is then clean.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers and Prometheus probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
# "HTTP_X_FORWARDED_PROTO,https" when a proxy that sets (and strips incoming) X-Forwarded-Proto
# terminates TLS; unset otherwise (trusting the header without such a proxy lets clients lie).
_proxy_ssl_header = env.list("SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if len(_proxy_ssl_header) == 2 else None

INSTALLED_APPS = [
    # Django's admin, its app list built lazily (tgcampaigns/admin_site.py).
    "tgcampaigns.admin_site.CampaignsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "axes",
    # The audit trail both apps write to; before "campaigns", whose admin wraps every admin
    # registered before it (campaigns.admin.guard).
    "tgcampaigns.audit",
    # Webhooks both apps emit events into (tgcampaigns/webhooks/).
    "tgcampaigns.webhooks",
    # API tokens (on the user's page), idempotency records; the REST API's door (docs/api.md).
    "tgcampaigns.apitokens",
    "sessions_app",
    "campaigns",
    # The REST API (/api/v1/): its endpoints, thin callers of the rooms, are in campaigns.rest.
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Under /api/: a body over its limit answers 413, and every error (404, 500, a 503 outage) is
    # a JSON problem, never an HTML page (tgcampaigns/apitokens/problems.py).
    "tgcampaigns.apitokens.problems.ApiProblemMiddleware",
    # Static files from STATIC_ROOT (after collectstatic), compressed and cached, without a
    # separate file server (scripts/serve; docs/operating.md "Production").
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A database outage reaching a view answers 503 saying so (issue 18); see also handler500.
    "tgcampaigns.outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Each staff user's own time zone (campaigns.people.timezones): times shown and entered in it.
    "campaigns.people.timezones.StaffTimeZoneMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout response.
    "axes.middleware.AxesMiddleware",
]

# Admin login throttling (django-axes; tgcampaigns/auth.py): a user name is locked out from one
# IP address after AXES_FAILURE_LIMIT wrong passwords, for AXES_COOLOFF_HOURS; a right password
# resets the count. Lift a lockout with `manage.py axes_reset_username NAME` (README).
AUTHENTICATION_BACKENDS = [
    "tgcampaigns.auth.LoginThrottle",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Trusted proxies in front of the app, each appending to X-Forwarded-For (0: use REMOTE_ADDR).
TGC_TRUSTED_PROXIES = env.int("TGC_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "tgcampaigns.auth.client_ip"

ROOT_URLCONF = "tgcampaigns.urls"
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
WSGI_APPLICATION = "tgcampaigns.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web app read while a worker writes; IMMEDIATE takes the write lock at BEGIN so
    # two writers queue on the busy timeout instead of failing with "database is locked" mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not :memory:, so the fault tests' worker processes share the test database.
    DATABASES["default"]["TEST"] = {
        "NAME": env.str("TEST_SQLITE_NAME", default=str(VAR_DIR / f"test-{os.getpid()}.sqlite3"))
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The site's zone: staff see and enter times in it unless they chose their own (user menu).
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# "2026-11-29 10:39 CET": ISO order and the zone's name on every time (tgcampaigns/formats/).
FORMAT_MODULE_PATH = "tgcampaigns.formats"

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
# WhiteNoise serves STATIC_ROOT; compressed copies (gzip, Brotli when installed) are made by
# collectstatic. Without a collectstatic (runserver, tests) the app's static folders are served.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not (Path(STATIC_ROOT) / "admin").is_dir()
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# The recipient list upload is cut off while it arrives once it passes TGC_IMPORT_MAX_BYTES.
FILE_UPLOAD_HANDLERS = [
    "campaigns.lists.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

# Secrets at rest: Fernet keys, comma-separated, newest first (MultiFernet: rotate by prepending).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
TELEGRAM_API_ID = env.int("TELEGRAM_API_ID", default=0)
TELEGRAM_API_HASH = env.str("TELEGRAM_API_HASH", default="")
# Which MTProto server Telethon sessions talk to (docs/staging.md; read at call time through
# sessions_app.servers). All empty: Telegram's production servers, Telethon's built-in address
# and keys. TELEGRAM_DC "id:host:port" (e.g. Telegram's test DC "2:149.154.167.40:80");
# TELEGRAM_PUBLIC_KEY the server's RSA public key as PEM text or the path of a PEM file;
# TELEGRAM_SERVER_NAME the name sessions record (default: "test" for Telegram's test DCs, else
# "host:port").
TELEGRAM_DC = env.str("TELEGRAM_DC", default="")
TELEGRAM_PUBLIC_KEY = env.str("TELEGRAM_PUBLIC_KEY", default="", multiline=True)
TELEGRAM_SERVER_NAME = env.str("TELEGRAM_SERVER_NAME", default="")
TGC_DEFAULT_REGION = env.str("TGC_DEFAULT_REGION", default="")
# Recipient file imports (campaigns/lists/limits.py): each limit refuses with a message naming it.
TGC_IMPORT_MAX_BYTES = env.int("TGC_IMPORT_MAX_BYTES", default=100 * 1024 * 1024)
TGC_IMPORT_MAX_ROWS = env.int("TGC_IMPORT_MAX_ROWS", default=1_000_000)
TGC_IMPORT_MAX_CELL_CHARS = env.int("TGC_IMPORT_MAX_CELL_CHARS", default=10_000)
TGC_IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("TGC_IMPORT_MAX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024)
# Files up to this size are imported while the page waits; larger ones in a django-q2 worker.
TGC_IMPORT_INLINE_MAX_BYTES = env.int("TGC_IMPORT_INLINE_MAX_BYTES", default=2 * 1024 * 1024)
# Listen for opt-out replies inside the django-q2 workers (a schedule, every minute) instead of,
# or besides, the listenoptouts command.
TGC_OPTOUT_SCHEDULE = env.bool("TGC_OPTOUT_SCHEDULE", default=False)
# After the send (campaigns/engine/engagement.py): days after a campaign's launch during which the
# periodic catch-up asks Telegram for its recipients' read marks and missed replies.
TGC_AFTER_SEND_DAYS = env.int("TGC_AFTER_SEND_DAYS", default=7)
# …and how often it runs (minutes; each round is paced like any other request of the session).
TGC_CATCH_UP_MINUTES = env.int("TGC_CATCH_UP_MINUTES", default=5)
# Words or phrases that opt out wherever they stand in a private reply, besides the built-in ones
# (campaigns/people/opt_out_words.py).
TGC_OPT_OUT_KEYWORDS = env.list("TGC_OPT_OUT_KEYWORDS", default=[])
# Off by default: Telegram does not say whether an imported phone was already a contact, so the
# clean-up would also delete contacts the account had before (use dedicated sending accounts).
TGC_DELETE_IMPORTED_CONTACTS = env.bool("TGC_DELETE_IMPORTED_CONTACTS", default=False)
# Retention (campaigns/people/retention.py, a daily schedule): days after which finished campaigns'
# results, and unused recipient lists with their files, are deleted. 0 keeps them.
TGC_RESULTS_RETENTION_DAYS = env.int("TGC_RESULTS_RETENTION_DAYS", default=0)
TGC_LISTS_RETENTION_DAYS = env.int("TGC_LISTS_RETENTION_DAYS", default=0)
TGC_SLICE_SECONDS = env.float("TGC_SLICE_SECONDS", default=60.0)
TGC_LEASE_SECONDS = env.float("TGC_LEASE_SECONDS", default=30.0)
TGC_SESSIONS_PER_DRIVER = env.int("TGC_SESSIONS_PER_DRIVER", default=50)
TGC_MAX_IN_FLIGHT = env.int("TGC_MAX_IN_FLIGHT", default=8)
# Seconds a resolved username is trusted before it is looked up again (usernames change hands).
TGC_USERNAME_MAX_AGE = env.float("TGC_USERNAME_MAX_AGE", default=24 * 3600.0)
# A scheduled start missed by more than this (seconds; workers were down) pauses the campaign
# for a human instead of sending late without a word.
TGC_SCHEDULE_GRACE_SECONDS = env.float("TGC_SCHEDULE_GRACE_SECONDS", default=3600.0)
# A launch whose lists hold more valid recipients than this is prepared by a worker.
TGC_INLINE_LAUNCH_ROWS = env.int("TGC_INLINE_LAUNCH_ROWS", default=20_000)
# Seconds a campaign page's computed blocks are reused while the campaign's counts stand still.
TGC_PAGE_CACHE_SECONDS = env.float("TGC_PAGE_CACHE_SECONDS", default=2.0)

REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="tgcampaigns"),
    "workers": env.int("Q_WORKERS", default=2),
    # timeout sits above the drive slice; retry well above timeout (campaigns.E001, E003).
    "timeout": env.int("Q_TIMEOUT", default=int(TGC_SLICE_SECONDS) + 60),
    "retry": env.int("Q_RETRY", default=int(TGC_SLICE_SECONDS) + 240),
    "max_attempts": 0,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    "label": "Django Q2",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"

# LOG_FORMAT=json: one JSON object a line (python-json-logger) with the campaign, session and
# worker a line is about (tgcampaigns/logcontext.py); plain text otherwise. Never message text,
# phone numbers or session strings.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = logging_config(LOG_FORMAT, env.str("LOG_LEVEL", default="INFO"))

# The REST API (docs/api.md). Tokens are the only way in (Authorization: Bearer …); the rate limit
# (TGC_API_RATE) and body limits (TGC_API_MAX_BODY_BYTES) are read through tgcampaigns/conf.py.
TGC_API_RATE = env.str("TGC_API_RATE", default="600/min")
TGC_API_MAX_BODY_BYTES = env.int("TGC_API_MAX_BODY_BYTES", default=8 * 1024 * 1024)
# Django's own ceiling on a body read whole (JSON): not below the API's.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(TGC_API_MAX_BODY_BYTES, 2_621_440)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tgcampaigns.apitokens.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["tgcampaigns.apitokens.throttling.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "tgcampaigns.apitokens.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tgcampaigns.apitokens.problems.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tgcampaigns API",
    "DESCRIPTION": "Recipient lists, suppressions, campaigns, results and persons (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tgcampaigns.apitokens.problems.document_problems",
    ],
}
# The API's rate-limit counters: the shared Redis with REDIS_URL (every web process counts
# together), else this process's memory.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tgc-api",
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tgc-api"}
    ),
}

# Prometheus metrics at /metrics (tgcampaigns/metrics.py): off unless a token or networks are set.
# With PROMETHEUS_MULTIPROC_DIR (environment or .env), prometheus-client writes a file per process
# there from the first counter on: made here, so whichever process of the machine starts first
# (migrate, a qcluster, gunicorn) finds it.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
TGC_METRICS_TOKEN = env.str("TGC_METRICS_TOKEN", default="")
TGC_METRICS_NETWORKS = env.list("TGC_METRICS_NETWORKS", default=[])

# Webhooks (tgcampaigns/webhooks/, docs/operating.md "Webhooks"): requests to private addresses
# are refused unless allowed; timeouts, the disable rule and how long events are kept.
TGC_WEBHOOK_ALLOW_PRIVATE = env.bool("TGC_WEBHOOK_ALLOW_PRIVATE", default=False)
TGC_WEBHOOK_TIMEOUT = env.float("TGC_WEBHOOK_TIMEOUT", default=10.0)
TGC_WEBHOOK_DISABLE_AFTER = env.int("TGC_WEBHOOK_DISABLE_AFTER", default=5)
TGC_WEBHOOK_RETENTION_DAYS = env.int("TGC_WEBHOOK_RETENTION_DAYS", default=30)

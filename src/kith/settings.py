"""Django settings for Kith, read from the environment.

Embedded mode (nothing set) runs on a SQLite file under ``var/``. The secret key comes
from ``SECRET_KEY`` or is generated once and kept in the data folder
(``kith.core.secret_key``); a key published with Kith's source is refused everywhere,
because a known secret lets anyone forge sessions and signed links.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kith.core.secret_key import resolve_secret_key


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("KITH_DATA_DIR", Path.cwd() / "var")).resolve()

DEBUG = env_bool("DEBUG", False)
# Never a constant: SECRET_KEY from the environment, else a random key generated on the
# first start and kept in DATA_DIR/secret_key (mode 0600). Published keys are refused.
DATA_DIR.mkdir(parents=True, exist_ok=True)
SECRET_KEY = resolve_secret_key(DATA_DIR, os.environ.get("SECRET_KEY"))
# Embedded mode is what a newcomer runs on their own machine: SQLite and loopback only.
EMBEDDED = env_bool("KITH_EMBEDDED", "DATABASE_URL" not in os.environ)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    # ninja's own static files: the API docs load Swagger UI from here, not from a CDN
    # (no network at run time, and the Content-Security-Policy allows only 'self').
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "kith.core",
    "kith.accounts",
    "kith.people",
    "kith.interactions",
    "kith.mail",
    "kith.sales",
    "kith.service",
    "kith.work",
    "kith.collab",
    "kith.community",
    "kith.ideas",
    "kith.portal",
    "kith.cmr",
    "kith.listening",
    "kith.insights",
    "kith.web",
    "kith.demo",
]

MIDDLEWARE = [
    # First: the client address and scheme, from X-Forwarded-* only via KITH_TRUSTED_PROXIES.
    "kith.core.proxies.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Outside the rest: sees every error response under /api/ (kith.core.http_errors).
    "kith.core.http_errors.ApiJsonErrorsMiddleware",
    # Content-Security-Policy (no inline script, images from self and data:) and friends.
    "kith.core.headers.SecurityHeadersMiddleware",
    # Before anything reads the body: size, malformed multipart, NUL in the URL (kith.core.inputs).
    "kith.core.inputs.InputLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff reads of a person, written in one insert after the response (kith.cmr.transparency).
    "kith.cmr.transparency.ReadLogMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kith.core.middleware.KithErrorMiddleware",
]

ROOT_URLCONF = "kith.urls"
ASGI_APPLICATION = "kith.asgi.application"
WSGI_APPLICATION = "kith.wsgi.application"

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
    }
]

DEFAULT_SQLITE = f"sqlite:///{DATA_DIR / 'kith.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_SQLITE), conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, with the threads of a process queueing for write transactions
    # instead of sleeping in SQLite's busy handler (kith.core.backends.sqlite3).
    DATABASES["default"]["ENGINE"] = "kith.core.backends.sqlite3"
    # Tests in memory, Django's default for SQLite, said out loud: pytest-django knows
    # the default only by Django's own engine name and would otherwise derive a file.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
    # WAL lets the web process read while the worker writes; IMMEDIATE transactions
    # avoid "database is locked" upgrades from read to write locks under concurrency.
    # Connections live as long as their thread: opening one (and running the PRAGMAs
    # below) cost more than a whole simple request. See kith.asgi for the threads.
    DATABASES["default"]["CONN_MAX_AGE"] = None
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=20000; PRAGMA cache_size=-65536;"
        ),
    }

elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "KITH_DB_POOL", True
):
    # A pool hands connections between requests and threads, including the per-request
    # threads of the ASGI streaming path (kith.asgi), where persistent connections would
    # never be reused: each would cost a new PostgreSQL backend (~10 ms).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(os.environ.get("KITH_DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("KITH_DB_POOL_MAX", "20")),
        "timeout": 10,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# WhiteNoise serves from the finders in embedded mode but warns when the root is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # The database cache is shared by the web and worker processes, which login
    # throttling needs; locmem would give each process its own counters.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "kith_cache",
        }
    }

# "bulk": imports and model fits, run beside the server by its bulk worker process
# (kith.core.worker.BULK_QUEUE, kith.core.bulk_worker).
TASK_QUEUES = ["default", "bulk"]
TASKS = {
    "default": {
        "BACKEND": os.environ.get("KITH_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": TASK_QUEUES,
    }
}
# `kith serve` runs the bulk task queue in a child process, so an import or a model
# fit uses the second core instead of the server's (kith.core.bulk_worker); false: the
# embedded worker thread runs every queue (one process, less memory).
KITH_BULK_WORKER_PROCESS = env_bool("KITH_BULK_WORKER_PROCESS", True)
# SQLite: a server checkpoints the write-ahead log in a background thread every this
# many seconds (0: off), so requests do not (kith.core.sqlite_checkpoint); its
# connections checkpoint themselves only past the fallback's size of log, in pages.
KITH_SQLITE_CHECKPOINT_SECONDS = float(os.environ.get("KITH_SQLITE_CHECKPOINT_SECONDS", "1"))
KITH_SQLITE_CHECKPOINT_FALLBACK_PAGES = int(
    os.environ.get("KITH_SQLITE_CHECKPOINT_FALLBACK_PAGES", "20000")
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not (DEBUG or EMBEDDED))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Bodies other than multipart (JSON, forms) above this answer 413 (kith.core.inputs);
# multipart bodies (files included) above KITH_MAX_UPLOAD_BYTES do.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
KITH_MAX_UPLOAD_BYTES = int(os.environ.get("KITH_MAX_UPLOAD_BYTES", str(60 * 1024 * 1024)))
# Uploaded files above 2.5 MB are streamed to a temporary file, not held in memory (a
# 7 MB vCard cost 60-110 MB of RSS per upload when it was held); the importers then read
# what they need.
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)

# Kith's own knobs.
# Threads that run ordinary (synchronous) requests under `kith serve`, and the paths
# served by Django's ASGI handler instead because they stream for a long time (kith.asgi).
KITH_WEB_THREADS = int(os.environ.get("KITH_WEB_THREADS", "8"))
# Every Server-Sent Events view (tests/core/test_asgi.py finds them in the URLconf): on
# the WSGI pool an open stream would hold one of KITH_WEB_THREADS threads for minutes, and
# a few open tabs would leave none for anyone else.
KITH_ASYNC_PATHS = ["/collab/stream/", "/listening/stream/"]
# Seconds `kith serve` waits, once told to stop, for requests still running; then it
# cancels them and exits, so a runaway request cannot hold a shutdown (or a deploy) forever.
KITH_SHUTDOWN_TIMEOUT = float(os.environ.get("KITH_SHUTDOWN_TIMEOUT", "30"))
# Login throttling (kith.accounts.login_throttle): failures slow down the address they
# come from, never the account: this many are free, then waits double from BACKOFF up to
# MAX_WAIT seconds.
KITH_LOGIN_MAX_FAILURES = int(os.environ.get("KITH_LOGIN_MAX_FAILURES", "5"))
KITH_LOGIN_BACKOFF_SECONDS = int(os.environ.get("KITH_LOGIN_BACKOFF_SECONDS", "30"))
KITH_LOGIN_MAX_WAIT_SECONDS = int(os.environ.get("KITH_LOGIN_MAX_WAIT_SECONDS", "900"))
# Proxies in front of Kith (addresses or networks) whose X-Forwarded-For/-Proto are
# believed (kith.core.proxies); none by default, so clients cannot choose their address.
KITH_TRUSTED_PROXIES = env_list("KITH_TRUSTED_PROXIES", "")
# kith serve / kith worker refuse to start with less free disk than this (kith.core.health).
KITH_MIN_FREE_DISK_MB = int(os.environ.get("KITH_MIN_FREE_DISK_MB", "50"))
try:
    for _proxy in KITH_TRUSTED_PROXIES:
        ipaddress.ip_network(_proxy, strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"KITH_TRUSTED_PROXIES: {exc}") from exc
if KITH_TRUSTED_PROXIES:
    # Safe only because TrustedProxyMiddleware drops the header from anyone else.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Deliver domain events right after the transaction commits, in-process, so the UI
# shows their effects at once; the worker picks up whatever that attempt missed.
KITH_DELIVER_EVENTS_ON_COMMIT = env_bool("KITH_DELIVER_EVENTS_ON_COMMIT", True)
KITH_OUTBOX_LEASE_SECONDS = int(os.environ.get("KITH_OUTBOX_LEASE_SECONDS", "60"))
# Bulk events (imports) the worker takes per pass, a batch counting its items: interactive
# events (mentions, notifications) wait at most one such slice behind a bulk backlog.
KITH_OUTBOX_BULK_ITEMS_PER_PASS = int(os.environ.get("KITH_OUTBOX_BULK_ITEMS_PER_PASS", "1000"))
# How long rows that have done their work are kept before the worker deletes them
# (kith.core.retention): delivered events, idempotency keys, finished background tasks.
KITH_OUTBOX_KEEP_DAYS = int(os.environ.get("KITH_OUTBOX_KEEP_DAYS", "7"))
KITH_IDEMPOTENCY_KEEP_HOURS = int(os.environ.get("KITH_IDEMPOTENCY_KEEP_HOURS", "24"))
KITH_TASK_RESULTS_KEEP_DAYS = int(os.environ.get("KITH_TASK_RESULTS_KEEP_DAYS", "7"))
# A running import whose heartbeat (saved with each chunk) is older than this lost its
# process: it is marked stale and can be resumed or restarted.
KITH_IMPORT_STALE_SECONDS = int(os.environ.get("KITH_IMPORT_STALE_SECONDS", "600"))
# An import of several chunks validates the next chunk in a forked child process while it
# writes this one (kith.core.ahead; Linux with two cores or more). Off: all in one process.
KITH_IMPORT_VALIDATE_AHEAD = env_bool("KITH_IMPORT_VALIDATE_AHEAD", True)
# Identity resolution (kith.people.identity): a pair at or above SUGGEST is shown to staff
# as a likely duplicate; at or above AUTO_LINK it is merged by the worker (set above 1 to
# never merge without a person). The custom field holding a customer/national number, if
# any, and the custom fields whose text may name a social handle (signatures, bios).
KITH_IDENTITY_SUGGEST_THRESHOLD = float(os.environ.get("KITH_IDENTITY_SUGGEST_THRESHOLD", "0.5"))
KITH_IDENTITY_AUTO_LINK_THRESHOLD = float(
    os.environ.get("KITH_IDENTITY_AUTO_LINK_THRESHOLD", "1.01")
)
# How often the worker scores the new people queued since its last pass, in one batch.
KITH_IDENTITY_SCORE_SECONDS = int(os.environ.get("KITH_IDENTITY_SCORE_SECONDS", "5"))
KITH_IDENTITY_ID_ATTRIBUTE = os.environ.get("KITH_IDENTITY_ID_ATTRIBUTE", "customer_number")
KITH_IDENTITY_EVIDENCE_ATTRIBUTES = tuple(
    k for k in os.environ.get("KITH_IDENTITY_EVIDENCE_ATTRIBUTES", "signature,bio").split(",") if k
)
# Lists count their rows exactly up to this many; beyond, PostgreSQL answers with the
# planner's estimate (flagged), since an exact count reads every row (kith.people.queries).
KITH_EXACT_COUNT_LIMIT = int(os.environ.get("KITH_EXACT_COUNT_LIMIT", "10000"))
KITH_COMPANY_NAME = os.environ.get("KITH_COMPANY_NAME", "Our company")
KITH_PHONE_REGION = os.environ.get("KITH_PHONE_REGION", "US")
# Where links in e-mails and calendar feeds point (the public address of this Kith).
KITH_BASE_URL = os.environ.get("KITH_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Forecasts and reports convert every amount to this currency with stored rates.
KITH_BASE_CURRENCY = os.environ.get("KITH_BASE_CURRENCY", "EUR").upper()
# Inbound mail for e-mail to case: imap(s)://user:password@host[:port]/MAILBOX
KITH_IMAP_URL = os.environ.get("KITH_IMAP_URL", "")
# Customer portal: sign-up, password-reset and e-mail-change requests per address per
# hour (an IP gets four times as many), and the size of each file a customer attaches.
KITH_PORTAL_REQUESTS_PER_HOUR = int(os.environ.get("KITH_PORTAL_REQUESTS_PER_HOUR", "5"))
KITH_PORTAL_MAX_ATTACHMENT_BYTES = int(
    os.environ.get("KITH_PORTAL_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024))
)
# A public portal lets anonymous visitors read the idea portal (ideas and their status);
# voting, proposing and commenting always need a login.
KITH_PORTAL_PUBLIC = env_bool("KITH_PORTAL_PUBLIC", False)

# Consent receipts (kith.cmr): who the controller is, under which law, and the policy
# the receipts point to; the purpose that governs notification e-mails to customers.
KITH_CMR_JURISDICTION = os.environ.get("KITH_CMR_JURISDICTION", "EU")
KITH_CMR_POLICY_URL = os.environ.get("KITH_CMR_POLICY_URL", "")
KITH_CMR_CONTROLLER_CONTACT = os.environ.get("KITH_CMR_CONTROLLER_CONTACT", "")
KITH_CMR_CONTROLLER_ADDRESS = os.environ.get("KITH_CMR_CONTROLLER_ADDRESS", "")
KITH_CMR_CONTROLLER_EMAIL = os.environ.get("KITH_CMR_CONTROLLER_EMAIL", "")
KITH_CMR_CONTROLLER_PHONE = os.environ.get("KITH_CMR_CONTROLLER_PHONE", "")
KITH_CMR_DIGEST_PURPOSE = os.environ.get("KITH_CMR_DIGEST_PURPOSE", "service_messages")
# Transparency log: staff reads of a person, coalesced per (staff, person, channel) and
# window; the roles that must give a reason; how staff are named to the customer
# ("name" or "team"). Off only for benchmarks that compare with and without it.
KITH_CMR_TRANSPARENCY = env_bool("KITH_CMR_TRANSPARENCY", True)
KITH_CMR_TRANSPARENCY_WINDOW_MINUTES = int(
    os.environ.get("KITH_CMR_TRANSPARENCY_WINDOW_MINUTES", "15")
)
KITH_CMR_PURPOSE_REQUIRED_ROLES = env_list("KITH_CMR_PURPOSE_REQUIRED_ROLES", "")
KITH_CMR_STAFF_NAMES = os.environ.get("KITH_CMR_STAFF_NAMES", "name")
# Correction and erasure: profile fields a customer edits without review; roles that may
# erase a person; retention periods (days) that hold an erasure back.
KITH_CMR_CUSTOMER_EDITABLE_FIELDS = env_list("KITH_CMR_CUSTOMER_EDITABLE_FIELDS", "locale,timezone")
KITH_CMR_ERASURE_ROLES = env_list("KITH_CMR_ERASURE_ROLES", "admin")
KITH_CMR_RETAIN_TRANSACTIONS_DAYS = int(os.environ.get("KITH_CMR_RETAIN_TRANSACTIONS_DAYS", "0"))
KITH_CMR_RETAIN_CASES_DAYS = int(os.environ.get("KITH_CMR_RETAIN_CASES_DAYS", "0"))

# Listening sources (kith.listening.sources): feeds and Mastodon are fetched from URLs
# staff type in, so private, loopback and link-local addresses are refused unless this is
# set (an intranet feed; the tests' local fixture server). Timeout and size cap per fetch;
# a longer item is truncated to KITH_LISTENING_MAX_ITEM_CHARS characters.
KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES = env_bool("KITH_LISTENING_ALLOW_PRIVATE_ADDRESSES", False)
KITH_LISTENING_HTTP_TIMEOUT = float(os.environ.get("KITH_LISTENING_HTTP_TIMEOUT", "15"))
KITH_LISTENING_MAX_FETCH_BYTES = int(
    os.environ.get("KITH_LISTENING_MAX_FETCH_BYTES", str(20 * 1024 * 1024))
)
KITH_LISTENING_MAX_ITEM_CHARS = int(os.environ.get("KITH_LISTENING_MAX_ITEM_CHARS", "20000"))

# Outgoing mail: SMTP when EMAIL_HOST is set; otherwise (embedded mode) each message is
# written to a file under the data directory so nothing is sent by surprise.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "kith@localhost")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "sent-mail"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {"kith": {"level": os.environ.get("KITH_LOG_LEVEL", "INFO")}},
}

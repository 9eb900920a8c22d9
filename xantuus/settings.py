"""Settings: every value comes from an environment variable with a documented default.

With REDIS_URL unset the project runs on the embedded default: SQLite, the in-process
step runner and the in-memory channel layer. No secret has a committed value.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from kombu import Queue

from xantuus.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("XANTUUS_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys, uploads, mail: the owner's only


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        return int(raw) if raw.strip() else default
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    return default if not raw else raw in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def env_json(name: str, default: Any) -> Any:
    raw = os.environ.get(name, "")
    try:
        return json.loads(raw) if raw.strip() else default
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be JSON: {exc}") from None


def _secret_key() -> str:
    """DJANGO_SECRET_KEY, or a key generated once per machine into var/ (never committed).

    The key is written 0600 from the first byte into a file of its own, then linked into place:
    of two processes starting at once one wins, the other reads the winner's complete file.
    """
    if key := os.environ.get("DJANGO_SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        draft = VAR_DIR / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(50))
            os.link(draft, path)  # atomic, and fails if another process linked its key first
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)  # written by an older version with the umask's mode
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Fernet key for stored OAuth tokens; derived from SECRET_KEY when unset.
XANTUUS_ENCRYPTION_KEY = os.environ.get("XANTUUS_ENCRYPTION_KEY", "")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or ["localhost", "127.0.0.1", "[::1]", "testserver"]

# --- Deployment security (docs/guarantees.md, "Security") ------------------------------
# Origins (scheme://host[:port]) trusted for CSRF and for websocket handshakes besides this site's own.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# Served over HTTPS (directly or behind a TLS proxy): cookies are then Secure unless DEBUG.
XANTUUS_HTTPS = env_bool("XANTUUS_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", XANTUUS_HTTPS and not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", XANTUUS_HTTPS and not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)


def _proxy_ssl_header() -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https": the header a TLS proxy sets (only behind one)."""
    raw = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
    if not raw:
        return None
    name, sep, value = raw.partition(":")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"SECURE_PROXY_SSL_HEADER must look like 'X-Forwarded-Proto: https', got {raw!r}")
    return "HTTP_" + name.strip().upper().replace("-", "_"), value.strip()


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
# The pages, the admin and Swagger UI use this site's static files only (tasks_app/security_headers.py).
XANTUUS_CSP = os.environ.get(
    "XANTUUS_CSP",
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'",
)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets served locally: /api/docs/ works offline
    "django_celery_beat",
    "django_celery_results",
    "channels",
    "tasks_app",
    "agents",  # no models: its ready() wires the in-process runner (agents/apps.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "tasks_app.security_headers.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tasks_app.audit.AuditMiddleware",  # who and from where, for the audit log
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "xantuus.urls"
WSGI_APPLICATION = "xantuus.wsgi.application"
ASGI_APPLICATION = "xantuus.asgi.application"

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
            ]
        },
    }
]

# --- Database: DATABASE_URL, else an SQLite file under var/ -------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'xantuus.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
# A connection that died (PostgreSQL restarted) is replaced before use instead of failing a step.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True


def prepare_threshold() -> int | None:
    """DATABASE_PREPARE_THRESHOLD: after how many runs of the same statement psycopg prepares it on
    the connection ("off": never, for a pooler in transaction mode that drops prepared statements)."""
    raw = os.environ.get("DATABASE_PREPARE_THRESHOLD", "").strip().lower()
    if raw in {"off", "none", "no", "false"}:
        return None
    return env_int("DATABASE_PREPARE_THRESHOLD", 5)


if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # Parameters bound by the server, not quoted into the SQL by the client: a statement a worker
    # runs every step (the step's SELECT and writes) is then prepared once per connection and planned
    # from a cached plan, not parsed and planned again on every step.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=prepare_threshold())
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several writers (the inline runner, a server, a command) share the file: WAL lets readers
    # go on while one writes, and IMMEDIATE transactions take the write lock at BEGIN, so a
    # second writer waits (up to `timeout`) instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Applied wherever a password is set: createsuperuser, changepassword, the admin's user forms.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": env_int("AUTH_PASSWORD_MIN_LENGTH", 10)}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# daphne serves /static/ itself (xantuus/asgi.py) unless a front server does: set it off then.
XANTUUS_SERVE_STATIC = env_bool("XANTUUS_SERVE_STATIC", True)
# The web pages (tasks_app/pages.py) need a login; the API answers 401 instead.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
MEDIA_ROOT = Path(os.environ.get("XANTUUS_MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "media/"

# --- Agent engine (the seed's names and defaults) ------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL  # no broker: the in-process runner drives the same step code
# The cache holds the throttles' and the login guard's counters: in Redis every process shares them.
CACHES = {
    "default": (
        {"BACKEND": "tasks_app.redis_cache.SharedRedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "xantuus-cache"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
AGENT_MAX_CONCURRENT = env_int("AGENT_MAX_CONCURRENT", 10)
AGENT_MAX_CONCURRENT_PER_USER = env_int("AGENT_MAX_CONCURRENT_PER_USER", 10)
AGENT_TIMEOUT_MS = env_int("AGENT_TIMEOUT_MS", 300_000)
AGENT_MAX_RETRIES = env_int("AGENT_MAX_RETRIES", 3)
AGENT_MAX_TOOL_CALLS = env_int("AGENT_MAX_TOOL_CALLS", 100)
AGENT_DEFAULT_MODEL = os.environ.get("AGENT_DEFAULT_MODEL", "claude-sonnet-4-5-20250929")
# The planner (agents/model_planner.py): a stronger model may write plans (empty: the task's model);
# a rejected plan goes back to the model at most AGENT_MAX_REPLANS times, and a run replans or
# refines at most that often. Planning tokens are priced like any model use (AGENT_TOKEN_PRICES).
AGENT_PLANNING_MODEL = os.environ.get("AGENT_PLANNING_MODEL", "")
AGENT_MAX_REPLANS = env_int("AGENT_MAX_REPLANS", 3)
AGENT_ESTIMATE_HISTORY = env_int("AGENT_ESTIMATE_HISTORY", 20)  # recent steps per action behind an estimate
AGENT_RETRY_BASE_S = float(os.environ.get("AGENT_RETRY_BASE_S", "1"))  # first backoff; doubles
AGENT_LEASE_SECONDS = env_int("AGENT_LEASE_SECONDS", 60)
# Circuit breaker per tool: open after this many consecutive failures, for the cool-down;
# a step still blocked after AGENT_CIRCUIT_MAX_WAIT_S of an open circuit fails clearly.
AGENT_CIRCUIT_FAILURES = env_int("AGENT_CIRCUIT_FAILURES", 5)
AGENT_CIRCUIT_COOLDOWN_S = env_int("AGENT_CIRCUIT_COOLDOWN_S", 30)
AGENT_CIRCUIT_MAX_WAIT_S = env_int("AGENT_CIRCUIT_MAX_WAIT_S", 600)
# Notification kinds also emailed to the task's owner (of completed, failed, approval_needed);
# every notification is stored either way. A completed run's own steps usually email the result.
AGENT_NOTIFY_EMAIL_KINDS = (
    env_list("AGENT_NOTIFY_EMAIL_KINDS") if "AGENT_NOTIFY_EMAIL_KINDS" in os.environ
    else ["failed", "approval_needed", "credit_limit"]
)
# Credits (agents/credits.py; prices: agents/pricing.py): what a new user is granted, and what model
# tokens cost, in credits per 1000 input and output tokens, per model (longest matching prefix of the model's name, else
# "default"). The default prices a typical reasoning step (2-8k tokens in, 300-800 out) at the
# seed's 100-500 credits.
AGENT_DEFAULT_CREDITS = env_int("AGENT_DEFAULT_CREDITS", 10_000)
AGENT_TOKEN_PRICES = env_json("AGENT_TOKEN_PRICES", {"default": {"input": 40, "output": 200}})
# Webhooks (Standard Webhooks): each attempt waits at most AGENT_WEBHOOK_TIMEOUT_S; a failed or
# non-2xx one is retried after AGENT_WEBHOOK_RETRY_BASE_S, doubling up to AGENT_WEBHOOK_RETRY_MAX_S,
# until AGENT_WEBHOOK_MAX_ATTEMPTS attempts (the defaults retry for about four hours).
AGENT_WEBHOOK_TIMEOUT_S = env_int("AGENT_WEBHOOK_TIMEOUT_S", 10)
AGENT_WEBHOOK_MAX_ATTEMPTS = env_int("AGENT_WEBHOOK_MAX_ATTEMPTS", 10)
AGENT_WEBHOOK_RETRY_BASE_S = float(os.environ.get("AGENT_WEBHOOK_RETRY_BASE_S", "30"))
AGENT_WEBHOOK_RETRY_MAX_S = float(os.environ.get("AGENT_WEBHOOK_RETRY_MAX_S", "21600"))
# Approval policies (the seed's "Approval Requirements"), as data: agents/policies.py matches them on
# the side-effect class and facts about the input (an outside system, a deletion, the run's
# recipients), every condition of a policy must hold. These are the defaults; a user's or a
# project's ApprovalPolicy rows override them by name. See docs/guarantees.md "Approvals".
AGENT_APPROVAL_POLICIES = [
    {"name": "payments", "actions": ["payment.*", "payments.*", "*.charge", "*.pay", "*.refund"],
     "reason": "financial transactions require approval"},
    {"name": "mass-email", "side_effects": ["write", "irreversible"], "min_recipients": 11,
     "reason": "email to more than 10 recipients requires approval"},
    {"name": "data-deletion", "deletion": True, "reason": "data deletion requires approval"},
    # AGENT_DATABASES connections are the operator's own databases: trusted unless an override says otherwise
    {"name": "external-writes", "side_effects": ["write", "irreversible"], "outside": True,
     "except_connections": ["*"], "reason": "external API calls with write access require approval"},
]
# Hosts whose writes (http, browser submits, Google APIs) are not "outside" for external-writes.
AGENT_WRITE_TRUSTED_HOSTS = env_list("AGENT_WRITE_TRUSTED_HOSTS")
# An approval nobody decides within this many seconds expires, and its task is cancelled.
AGENT_APPROVAL_TTL_S = env_int("AGENT_APPROVAL_TTL_S", 7 * 86400)
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 5)
WORKER_CONN_MAX_AGE = env_int("WORKER_CONN_MAX_AGE", 300)  # s a worker keeps its database connection
WORKER_POLL_INTERVAL = env_int("WORKER_POLL_INTERVAL", 1000)  # ms; the lease sweeper's period
# Operations (agents/heartbeats.py, tasks_app/prometheus.py): how often a worker reports itself (a
# worker unseen for a minute, or three periods, is stale); the bearer token /metrics asks of a
# request that does not come from loopback (unset: only loopback may read it).
AGENT_WORKER_HEARTBEAT_S = env_int("AGENT_WORKER_HEARTBEAT_S", 10)
AGENT_METRICS_TOKEN = os.environ.get("AGENT_METRICS_TOKEN", "")

# LLM: "anthropic" when a key is set, else the deterministic "offline" provider.
ANTHROPIC_API_KEY = os.environ.get("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = os.environ.get("ANTHROPIC_BASE_URL") or None
AGENT_LLM_PROVIDER = os.environ.get("AGENT_LLM_PROVIDER") or ("anthropic" if ANTHROPIC_API_KEY else "offline")

# Network tools refuse private and loopback addresses unless allow-listed here.
AGENT_EGRESS_ALLOWLIST = env_list("AGENT_EGRESS_ALLOWLIST")
AGENT_HTTP_TIMEOUT_S = env_int("AGENT_HTTP_TIMEOUT_S", 15)
AGENT_HTTP_MAX_BYTES = env_int("AGENT_HTTP_MAX_BYTES", 5 * 1024 * 1024)
HACKERNEWS_API_URL = os.environ.get("HACKERNEWS_API_URL", "https://hacker-news.firebaseio.com/v0").rstrip("/")

# Files people upload (POST /api/files) and the data_processing agent's enrichment provider
# (People Data Labs' Person Enrichment API, or anything speaking it); no provider: fields "unavailable".
AGENT_UPLOAD_MAX_BYTES = env_int("AGENT_UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
AGENT_ENRICHMENT_URL = os.environ.get("AGENT_ENRICHMENT_URL", "").rstrip("/")
AGENT_ENRICHMENT_KEY = os.environ.get("AGENT_ENRICHMENT_KEY", "")
AGENT_ENRICHMENT_RATE = float(os.environ.get("AGENT_ENRICHMENT_RATE", "10"))  # requests per second

# --- Email: Django's standard settings ------------------------------------------------
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "agent@xantuus.local")
# Where people reach this site from outside: the base of the unsubscribe links in campaign emails.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

# --- Celery: Redis broker, results in the database, beat from the database ------------
PRIORITIES = ("urgent", "high", "medium", "low")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
# Listed in the order a worker polls them (kombu's "priority" strategy: BRPOP over the keys in
# this order, the first non-empty wins): control (the sweeper, scheduled runs) first, then
# urgent before high before medium before low.
CELERY_TASK_QUEUES = [Queue("agent.control")] + [Queue(f"agent.{p}") for p in PRIORITIES]
CELERY_TASK_DEFAULT_QUEUE = "agent.medium"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = WORKER_CONCURRENCY
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"queue_order_strategy": "priority", "visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "sweep-lapsed-leases": {
        "task": "agents.tasks.sweep",
        "schedule": max(WORKER_POLL_INTERVAL, 500) / 1000,
        "options": {"queue": "agent.control", "expires": 10},
    },
    "aggregate-agent-metrics": {  # AgentMetrics per agent type per day (agents/metrics.py)
        "task": "agents.tasks.aggregate_metrics",
        "schedule": 60.0,
        "options": {"queue": "agent.control", "expires": 50},
    },
    "deliver-due-webhooks": {  # the safety net: each delivery is also sent by its own message
        "task": "agents.tasks.deliver_webhooks",
        "schedule": 5.0,
        "options": {"queue": "agent.control", "expires": 10},
    },
}
CELERY_TIMEZONE = TIME_ZONE

# --- Channels ---------------------------------------------------------------------------
# Redis pub/sub: a group message is one PUBLISH, fanned out inside each daphne process to its own
# sockets (the list-based RedisChannelLayer writes, and pops, one Redis entry per subscriber). Delivery
# is at most once; every event is stored and numbered, so a client that sees a gap refills it.
CHANNEL_LAYERS = {
    "default": (
        {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}
        if REDIS_URL
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tasks_app.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["tasks_app.api.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tasks_app.api.errors.exception_handler",
}
# Per-user API rate limits ("<count>/<sec|min|hour|day>"; empty: unlimited); over them: 429 + Retry-After.
AGENT_RATE_CREATE = os.environ.get("AGENT_RATE_CREATE", "60/min")
AGENT_RATE_EXECUTE = os.environ.get("AGENT_RATE_EXECUTE", "60/min")
# Password logins (the page, the admin, POST /api/auth/token; tasks_app/login_guard.py): attempts per
# client address, and a username locked for AGENT_LOGIN_LOCKOUT_S after AGENT_LOGIN_MAX_FAILURES failures.
AGENT_RATE_LOGIN = os.environ.get("AGENT_RATE_LOGIN", "20/min")
AGENT_LOGIN_MAX_FAILURES = env_int("AGENT_LOGIN_MAX_FAILURES", 5)
AGENT_LOGIN_LOCKOUT_S = env_int("AGENT_LOGIN_LOCKOUT_S", 900)
# Proxies (IPs or CIDRs) whose X-Forwarded-For is believed; none: REMOTE_ADDR is the client.
AGENT_TRUSTED_PROXIES = env_list("AGENT_TRUSTED_PROXIES")
# API tokens expire this many seconds after issue (0: never); DELETE /api/auth/token revokes one.
AGENT_TOKEN_TTL_S = env_int("AGENT_TOKEN_TTL_S", 30 * 86400)
# POST /api/agent/execute/{id} with {"async": false} waits at most this long for the result, then answers 202.
AGENT_SYNC_WAIT_S = float(os.environ.get("AGENT_SYNC_WAIT_S", "30"))
SPECTACULAR_SETTINGS = {
    "TITLE": "Xantuus agent engine API", "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"TaskStatusEnum": "tasks_app.models.TaskStatus",
                            "ApprovalStatusEnum": "tasks_app.models.Approval.Status",
                            "ApprovalKindEnum": "tasks_app.models.Approval.Kind"},
}

# LOG_FORMAT=json: one JSON object per line with the task, run and step ids (xantuus/logs.py)
LOGGING = logging_config(os.environ.get("LOG_LEVEL", "WARNING"))

"""Settings for the functions platform.

Every knob is read here, from the environment or a `.env` file beside manage.py, through
django-environ's FileAwareEnv (so each secret also accepts `NAME_FILE`). No other module reads
os.environ. With no DATABASE_URL and no broker configured the platform runs embedded: a SQLite
file, Celery tasks executed eagerly in-process, and a local-memory cache.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.FileAwareEnv()
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])


def _fernet_keys(raw: list[str]) -> tuple[list[str], str | None]:
    """Return the usable keys and a problem description (None when all keys are valid)."""
    if not raw:
        return [], "FIELD_ENCRYPTION_KEY is not set"
    for key in raw:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return [], "FIELD_ENCRYPTION_KEY holds a value that is not a url-safe base64 32-byte key"
    return raw, None


# Newest key first; older keys still decrypt (rotation). django-encrypted-model-fields reads
# the key when models are imported and raises there, so a bad key is replaced by a throwaway
# one here and reported by the system check functions_platform.E001, which stops every
# management command and the server before anything is stored with it.
FIELD_ENCRYPTION_KEY_PROBLEM: str | None
_keys, FIELD_ENCRYPTION_KEY_PROBLEM = _fernet_keys(env.list("FIELD_ENCRYPTION_KEY", default=[]))
FIELD_ENCRYPTION_KEY = _keys or [Fernet.generate_key().decode()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "axes",
    "csp",
    "django_ace",
    "encrypted_model_fields",
    "functions_platform.apps.FunctionsPlatformConfig",
    "workspaces",
    "catalog",
    "runtime",
]

MIDDLEWARE = [
    "functions_platform.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Ingest (/hooks/<token>, /v1/<type>) is answered here, without the middleware below.
    "functions_platform.middleware.ingest_shortcut",
    "csp.middleware.CSPMiddleware",
    "functions_platform.middleware.secure_cookies",
    "functions_platform.middleware.input_guard",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "functions_platform.urls"
WSGI_APPLICATION = "functions_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "functions_platform" / "templates"],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    # A kept connection is tested before reuse: after a PostgreSQL restart the next request
    # reconnects instead of failing on the dead socket.
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Embedded mode: nothing configured means no services at all.
REDIS_URL = env("REDIS_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
EMBEDDED = not CELERY_BROKER_URL
# kombu's Redis transport with a fix: a busy worker survives Redis dropping the connection.
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "functions_platform.broker:Transport"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
# Celery closes every database connection after each task unless this is set (a new
# PostgreSQL connection per task); reuse one for this many tasks (CONN_HEALTH_CHECKS and
# CONN_MAX_AGE still apply), 0 = close after every task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Redis redelivers an unacknowledged task after this many seconds. Workers refresh the
# messages they hold every quarter of it (functions_platform.celery.UnackedHeartbeat), so it
# bounds how long a dead worker's tasks wait, not how long a task may run (docs/pipeline.md).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=30),
    # How often a worker looks for tasks a dead worker left unacknowledged: every interval x
    # throttle seconds (kombu's defaults, 10 x 10, add up to 100 s to every recovery).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=5),
    "unacked_restore_throttle": env.int("CELERY_UNACKED_RESTORE_THROTTLE", default=1),
}
CELERY_BEAT_SCHEDULE: dict = {
    "pipeline-sweep": {
        "task": "runtime.pipeline_sweep",
        "schedule": env.float("PIPELINE_SWEEP_S", default=30.0),
    },
    "pipeline-cleanup": {"task": "runtime.pipeline_cleanup", "schedule": 3600.0},
    # Re-publish deployments whose task was lost (a web process dying between commit and
    # publish, a broker losing a message); the task is idempotent.
    "deployments-republish": {"task": "runtime.deployments_republish_stale", "schedule": 60.0},
    # Canaries and post-deploy watches whose time ran out without traffic (docs/safe-change.md).
    "canaries-sweep": {"task": "runtime.canaries_sweep", "schedule": 60.0},
}
# A starting worker or beat runs the system checks and refuses to start on an error
# (functions_platform/checks.py): it waits this long for the broker, and a worker also starts
# a throwaway sandbox host once (WORKER_SANDBOX_CHECK=false skips that, e.g. in a tight loop).
WORKER_BROKER_WAIT_S = env.float("WORKER_BROKER_WAIT_S", default=10.0)
WORKER_SANDBOX_CHECK = env.bool("WORKER_SANDBOX_CHECK", default=True)
DEPLOYMENT_STALE_AFTER_S = env.int("DEPLOYMENT_STALE_AFTER_S", default=120)

# The event pipeline (docs/pipeline.md). With Redis, ingest appends to per-stage Redis lists
# and one Celery task drains many items (micro-batching); without it (embedded) each request
# is one eager task. Retry delays are seconds (floats), so tests can use milliseconds.
PIPELINE_REDIS_URL = env("PIPELINE_REDIS_URL", default=REDIS_URL)
# true: PIPELINE_REDIS_URL names a node of a Redis Cluster (the pipeline's own keys only; the
# Celery broker stays a single Redis or Sentinel).
PIPELINE_REDIS_CLUSTER = env.bool("PIPELINE_REDIS_CLUSTER", default=False)
# Production mode needs a Redis that persists (AOF); true = the operator accepts losing what is
# queued when Redis restarts (system check runtime.E101 becomes warning W101; /readyz passes).
PIPELINE_REDIS_VOLATILE_OK = env.bool("PIPELINE_REDIS_VOLATILE_OK", default=False)
# Ingest refuses (503) once Redis uses this share of its maxmemory, so workers keep room to drain.
PIPELINE_REDIS_MEMORY_HIGH = env.float("PIPELINE_REDIS_MEMORY_HIGH", default=0.9)
PIPELINE_KEY_PREFIX = env("PIPELINE_KEY_PREFIX", default="fp")
PIPELINE_FLUSH_WAIT_S = env.float("PIPELINE_FLUSH_WAIT_S", default=0.2)
PIPELINE_SOURCE_BATCH = env.int("PIPELINE_SOURCE_BATCH", default=50)
PIPELINE_ROUTE_BATCH = env.int("PIPELINE_ROUTE_BATCH", default=500)
PIPELINE_DEDUPE_TTL_S = env.int("PIPELINE_DEDUPE_TTL_S", default=24 * 3600)
# Workers keep instance/route lookups this long (a disabled destination stops within it).
PIPELINE_LOOKUP_CACHE_S = env.float("PIPELINE_LOOKUP_CACHE_S", default=1.0)
PIPELINE_STATS_BUCKET_S = env.int("PIPELINE_STATS_BUCKET_S", default=300)
PIPELINE_STATS_DAYS = env.int("PIPELINE_STATS_DAYS", default=30)
PIPELINE_ERROR_LOG_KEEP = env.int("PIPELINE_ERROR_LOG_KEEP", default=100)
PIPELINE_ERROR_LOG_DAYS = env.int("PIPELINE_ERROR_LOG_DAYS", default=30)
# Messages dropped at ingest (partial accept): samples kept per source; counts follow STATS_DAYS.
PIPELINE_DROPS_KEEP = env.int("PIPELINE_DROPS_KEEP", default=100)
# Dead letters (items the pipeline gave up on): the newest N per instance, at most DAYS old.
PIPELINE_DEAD_LETTER_KEEP = env.int("PIPELINE_DEAD_LETTER_KEEP", default=10_000)
PIPELINE_DEAD_LETTER_DAYS = env.int("PIPELINE_DEAD_LETTER_DAYS", default=30)
# An in-flight list (a batch a task took) is leased; a live task renews the lease every third of
# it, and the sweep returns an expired one to its buffer. Each such recovery counts against the
# items; past MAX_ATTEMPTS they become dead letters (a batch that keeps killing its worker).
PIPELINE_INFLIGHT_LEASE_S = env.float("PIPELINE_INFLIGHT_LEASE_S", default=30.0)
PIPELINE_INFLIGHT_MAX_ATTEMPTS = env.int("PIPELINE_INFLIGHT_MAX_ATTEMPTS", default=5)
# Dedupe: a messageId is claimed per destination before its call; the claim outlives any call.
# A copy found claimed by another task is looked at again after CLAIM_WAIT_S.
PIPELINE_CLAIM_TTL_S = env.float("PIPELINE_CLAIM_TTL_S", default=120.0)
PIPELINE_CLAIM_WAIT_S = env.float("PIPELINE_CLAIM_WAIT_S", default=5.0)
# Durable retries (PendingRetry rows): how long a task's claim on a row lasts, and how overdue a
# row's task message must be before the sweep publishes it again (the message was lost).
PIPELINE_RETRY_CLAIM_S = env.float("PIPELINE_RETRY_CLAIM_S", default=300.0)
PIPELINE_RETRY_REPUBLISH_S = env.float("PIPELINE_RETRY_REPUBLISH_S", default=60.0)
# Source debugger (runtime/debugger): on or off; requests and events kept per source (the page
# shows the newest DEBUGGER_SHOW), webhook bodies kept up to DEBUGGER_BODY_BYTES, for DEBUGGER_TTL_S.
DEBUGGER_ENABLED = env.bool("DEBUGGER_ENABLED", default=True)
DEBUGGER_KEEP = env.int("DEBUGGER_KEEP", default=500)
DEBUGGER_SHOW = env.int("DEBUGGER_SHOW", default=100)
DEBUGGER_BODY_BYTES = env.int("DEBUGGER_BODY_BYTES", default=64 * 1024)
DEBUGGER_TTL_S = env.int("DEBUGGER_TTL_S", default=7 * 24 * 3600)
# Each process merges its recordings and writes them every DEBUGGER_FLUSH_S (0: at once).
DEBUGGER_FLUSH_S = env.float("DEBUGGER_FLUSH_S", default=0.2)
# Embedded mode (no Redis) keeps the debugger's traffic in this SQLite file.
DEBUGGER_SQLITE_PATH = env("DEBUGGER_SQLITE_PATH", default=str(BASE_DIR / "debugger.sqlite3"))
# Request inspector (runtime/inspector): requests kept per workspace.
INSPECTOR_KEEP = env.int("INSPECTOR_KEEP", default=100)
# Source functions (Segment): up to 6 retries, first delay 1-3 min, doubling, capped at 20 min.
SOURCE_RETRY_MAX = env.int("SOURCE_RETRY_MAX", default=6)
SOURCE_RETRY_FIRST_MIN_S = env.float("SOURCE_RETRY_FIRST_MIN_S", default=60.0)
SOURCE_RETRY_FIRST_MAX_S = env.float("SOURCE_RETRY_FIRST_MAX_S", default=180.0)
SOURCE_RETRY_CAP_S = env.float("SOURCE_RETRY_CAP_S", default=1200.0)
# Destinations and inserts: jittered exponential backoff for up to 4 hours.
DELIVERY_RETRY_BASE_S = env.float("DELIVERY_RETRY_BASE_S", default=30.0)
DELIVERY_RETRY_CAP_S = env.float("DELIVERY_RETRY_CAP_S", default=1800.0)
DELIVERY_RETRY_WINDOW_S = env.float("DELIVERY_RETRY_WINDOW_S", default=4 * 3600.0)
# Isolation (runtime/pipeline/slots.py): an instance whose delivery round took SLOW_DELIVERY_S
# or more holds at most SLOW_INSTANCE_SLOTS worker processes (across all workers) for
# SLOW_FLAG_S after it; its other tasks come back after SLOT_WAIT_S.
PIPELINE_SLOW_DELIVERY_S = env.float("PIPELINE_SLOW_DELIVERY_S", default=2.0)
PIPELINE_SLOW_INSTANCE_SLOTS = env.int("PIPELINE_SLOW_INSTANCE_SLOTS", default=1)
PIPELINE_SLOW_FLAG_S = env.float("PIPELINE_SLOW_FLAG_S", default=60.0)
PIPELINE_SLOT_WAIT_S = env.float("PIPELINE_SLOT_WAIT_S", default=0.5)
# Embedded mode runs retries at once (no scheduler): how many before a failure is final.
PIPELINE_EAGER_DELIVERY_RETRIES = env.int("PIPELINE_EAGER_DELIVERY_RETRIES", default=3)
# Safe change (docs/safe-change.md). Automatic rollback: over CANARY_MIN_EVENTS events, an
# error rate above the old version's by CANARY_ERROR_POINTS and CANARY_ERROR_RATIO times, or
# a p95 latency CANARY_LATENCY_RATIO times the old one's. CANARY_WATCH_S: the watch after a
# plain deploy (0 turns it off). CANARY_FALLBACK: events the canary fails run the old version.
CANARY_MIN_EVENTS = env.int("CANARY_MIN_EVENTS", default=50)
CANARY_ERROR_POINTS = env.float("CANARY_ERROR_POINTS", default=5.0)
CANARY_ERROR_RATIO = env.float("CANARY_ERROR_RATIO", default=2.0)
CANARY_LATENCY_RATIO = env.float("CANARY_LATENCY_RATIO", default=3.0)
CANARY_WATCH_S = env.int("CANARY_WATCH_S", default=15 * 60)
CANARY_MAX_DURATION_S = env.int("CANARY_MAX_DURATION_S", default=7 * 24 * 3600)
CANARY_FALLBACK = env.bool("CANARY_FALLBACK", default=True)
# Dry-run replay: events per replay, its time budget, and how many instances it compares with.
REPLAY_MAX_EVENTS = env.int("REPLAY_MAX_EVENTS", default=500)
REPLAY_TIME_BUDGET_S = env.float("REPLAY_TIME_BUDGET_S", default=120.0)
REPLAY_MAX_INSTANCES = env.int("REPLAY_MAX_INSTANCES", default=10)

CACHES = {
    "default": env.cache("CACHE_URL", default=f"{REDIS_URL.rstrip('/')}" if REDIS_URL else "locmemcache://")
}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # The cache holds best-effort data (rate-limit counters, sample events): a hung Redis must
    # cost a request a second at most, not the client's default of waiting for ever.
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out address before checking
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
GUARDIAN_RAISE_403 = False
GUARDIAN_MONKEY_PATCH_USER = False

# --- web security (docs/access-control.md) ----------------------------------------------------
# Behind N reverse proxies, the client address is the Nth X-Forwarded-For entry from the right
# and X-Forwarded-Proto tells whether the client used https; with none, neither header is
# trusted (a client could forge them).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
if env.bool("SECURE_PROXY_SSL_HEADER", default=TRUSTED_PROXY_COUNT > 0):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Cookies: never readable by scripts; Secure when the public URL is https (and, whatever it
# says, on every request that came over https: functions_platform.middleware.secure_cookies).
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # the admin's forms and the editor read the token from the page
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool(
    "COOKIES_SECURE", default=PUBLIC_BASE_URL.startswith("https://")
)
# HSTS is sent on https requests only (SecurityMiddleware), so plain-http `make run` is unaffected.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# No inline script anywhere (no 'unsafe-inline', no 'unsafe-eval'); styles from stylesheets only;
# logos may come from any https host. The ingest endpoints answer JSON to machines on the hot path.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/v1/", "/hooks/", "/inspect/"],
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Failed API tokens, write keys and webhook tokens per client address (functions_platform.throttle).
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW_S = env.int("AUTH_FAILURE_WINDOW_S", default=60)
AUTH_LOCKOUT_S = env.int("AUTH_LOCKOUT_S", default=60)
# Admin login lockout (django-axes): per client address, counted in the database so every
# process (and embedded mode) agrees; a success clears the address's failures.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "functions_platform.throttle.client_address"
AXES_LOCKOUT_CALLABLE = "functions_platform.throttle.login_lockout_response"
AXES_ENABLE_ADMIN = False  # operators use manage.py axes_list_attempts / axes_reset_ip
AXES_DISABLE_ACCESS_LOG = True  # no write on a successful login
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "admin:login"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Functions Platform API",
    "DESCRIPTION": "A Segment Public API compatible interface to functions, versions and instances.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    # Every delete answers {"status": "SUCCESS"}: one enum under one name, not a hashed one.
    "ENUM_NAME_OVERRIDES": {"SuccessStatusEnum": ["SUCCESS"]},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "functions_platform.api.schema.camelize_path_parameters",
        "functions_platform.api.schema.declare_input_constraints",
    ],
}
# Public API calls per access token per minute (Segment's X-RateLimit-* headers report it).
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=600)

# The sandbox (runtime/sandbox/ starts one Node host per process).
# Empty: the Node.js 24 pinned in runtime/node/engine (see docs/sandbox.md).
NODE_BINARY = env("NODE_BINARY", default="")
FUNCTIONS_EGRESS_ALLOW = env("FUNCTIONS_EGRESS_ALLOW", default="")
FUNCTIONS_DEFAULT_TIMEOUT_MS = env.int("FUNCTIONS_DEFAULT_TIMEOUT_MS", default=5000)
FUNCTIONS_MAX_WARM = env.int("FUNCTIONS_MAX_WARM", default=500)
# Sandbox limits (runtime.sandbox.SandboxLimits fields -> values), e.g.
# {"memory_mb": 256, "host_memory_mb": 2048}; see docs/sandbox.md, "Limits".
FUNCTIONS_SANDBOX_LIMITS = env.json("FUNCTIONS_SANDBOX_LIMITS", default={})

# Logs (docs/observability.md): one JSON object per line in production (LOG_FORMAT=json, the
# default outside embedded mode and DEBUG), plain text otherwise; every line carries the
# request id of the HTTP request or the task it belongs to.
LOG_FORMAT = env("LOG_FORMAT", default="text" if EMBEDDED or DEBUG else "json")
# Celery workers log through LOGGING too (same format, request ids), not Celery's own handler.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "client_errors": {"()": "functions_platform.log_filters.ClientErrorWithoutTraceback"},
        "request_id": {"()": "functions_platform.log_filters.RequestIdFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "timestamp": False,
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["client_errors", "request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # axes logs every login at INFO; lockouts are WARNING.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Prometheus metrics (docs/observability.md). With PROMETHEUS_MULTIPROC_DIR set, each process
# (gunicorn worker, Celery worker process) writes its samples there and /metrics merges every
# file under METRICS_COLLECT_DIR (default: that same directory).
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    # prometheus_client reads the directory from the environment when it is first imported.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
METRICS_COLLECT_DIR = env("METRICS_COLLECT_DIR", default="")
# Scrapers: a bearer token, or an address in these networks (default: this machine only).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOW_NETWORKS = env.list("METRICS_ALLOW_NETWORKS", default=["127.0.0.0/8", "::1/128"])
# Instances with their own delivery series per process; the rest are folded into "other".
METRICS_MAX_INSTANCES = env.int("METRICS_MAX_INSTANCES", default=200)

"""Settings shared by every environment; every deployment-specific value comes from the environment."""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from secureai.redis_clients import cache_options, channel_layer_host, check_sentinel_settings, parse_sentinels

from .database import database_pool_options
from .env import env_bool, env_float, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Export one (python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
        "or use scripts/run, which keeps a generated one in var/secret_key."
    )
# The previous keys while SECRET_KEY is rotated: sessions and links they signed stay valid until
# they are dropped from this list (docs/security.md, docs/operations.md). JWTs are signed with
# JWT_SIGNING_KEY.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "secureai",
    "analyses",
    "realtime",
]

MIDDLEWARE = [
    "secureai.request_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "secureai.errors.ExceptionResponseMiddleware",
]

ROOT_URLCONF = "secureai.urls"
ASGI_APPLICATION = "secureai.asgi.application"
WSGI_APPLICATION = None

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

# Connections are kept between requests: each request runs its sync code on one of a few
# long-lived threads (secureai.request_threads), and the sockets' queries on one more, so a
# connection lives as long as its thread instead of one request. Health checks replace a broken one.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=True,
    )
}
#: How many threads run the sync work of HTTP requests (and so hold a database connection each).
REQUEST_THREADS = env_int("REQUEST_THREADS", 2)
#: How long a stopping server lets the HTTP requests under way finish (secureai.server).
SERVER_DRAIN_SECONDS = env_float("SERVER_DRAIN_SECONDS", 10.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers take the lock when their transaction begins, so two writers queue instead of
    # failing half-way; WAL lets readers (live pages, the API) run beside a writer.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", True):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = database_pool_options(
        min_size=env_int("DATABASE_POOL_MIN_SIZE", 2),
        max_size=env_int("DATABASE_POOL_MAX_SIZE", 20),
        timeout=env_float("DATABASE_POOL_TIMEOUT", 5.0),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
    # The pool keeps each process's connections open, in place of Django's persistent connections
    # (CONN_MAX_AGE), which Django refuses beside it. It checks a connection before lending it, so
    # after PostgreSQL restarts the first requests get fresh connections instead of dead ones.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise serves static files straight from the app folders, so daphne needs no
# separate static server and no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "live:dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "secureai.authentication.CachedJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "analyses.api.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "secureai.schema.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in as well as out: a form body is 415. (daphne itself answers a malformed multipart body
    # with a bare 400 before Django sees it, so accepting forms would also mean undocumented answers.)
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "analyses.api.errors.json_error_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_LIFETIME", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_LIFETIME", 24 * 3600)),
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "ALGORITHM": "HS256",
    "UPDATE_LAST_LOGIN": False,
    "TOKEN_REFRESH_SERIALIZER": "secureai.tokens.TokenRefreshSerializer",
}
#: A JWT's user (and permissions) is looked up at most this often per process, not on every request;
#: a deactivated user or a changed password is seen within this time (at once in the same process).
JWT_USER_CACHE_SECONDS = env_float("JWT_USER_CACHE_SECONDS", 10.0)

SPECTACULAR_SETTINGS = {
    "TITLE": "SecureAI Status API",
    "DESCRIPTION": (
        "Status of deepfake-detection analyses: snapshots, transitions and history.\n\n"
        "Live updates come over the WebSocket `/ws/status/`, described by an AsyncAPI 3 document: "
        "[/api/asyncapi.yaml](/api/asyncapi.yaml) ([JSON](/api/asyncapi.json))."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1 writes nullable objects as JSON Schema does (oneOf with null), which every validator reads alike.
    "OAS_VERSION": "3.1.0",
    # previous_status shares the status choices; one name for both keeps the schema tidy.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "analyses.models.STATUS_VALUES",
    },
}

# --- Realtime -------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
# With both set, every Redis client (the channel layer's and the app's own, see
# secureai/redis_clients.py) asks these Sentinels for the current primary and follows a failover;
# REDIS_URL is then unused.
REDIS_SENTINELS = parse_sentinels(env_list("REDIS_SENTINELS", []))
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "")
check_sentinel_settings(REDIS_SENTINELS, REDIS_SENTINEL_MASTER)
# "redis" (the default, and what every multi-process deployment needs) or "memory", which
# reaches only its own process and is meant for the single-process demo fallback.
CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER", "redis")
CHANNEL_LAYER_PREFIX = env_str("CHANNEL_LAYER_PREFIX", "secureai")


def channel_layers(backend: str, redis_host: dict, prefix: str) -> dict:
    """The CHANNEL_LAYERS setting for a backend name."""
    if backend == "memory":
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10_000}}}
    if backend != "redis":
        raise ImproperlyConfigured(f"CHANNEL_LAYER must be 'redis' or 'memory', not {backend!r}")
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # One host; several would shard channels and groups over them by consistent hashing.
                "hosts": [redis_host],
                "prefix": prefix,
                # Longer than any socket lives, or long-lived sockets silently leave their groups.
                "group_expiry": 30 * 24 * 3600,
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000),
                # Each server process reads every event of its sockets from one hub channel.
                "channel_capacity": {"hub.*": env_int("CHANNEL_LAYER_HUB_CAPACITY", 10_000)},
                "expiry": 60,
            },
        }
    }


CHANNEL_LAYERS = channel_layers(
    CHANNEL_LAYER_BACKEND,
    channel_layer_host(redis_url=REDIS_URL, sentinels=REDIS_SENTINELS, master=REDIS_SENTINEL_MASTER),
    CHANNEL_LAYER_PREFIX,
)

REALTIME = {
    "HEARTBEAT_INTERVAL": env_float("WS_HEARTBEAT_INTERVAL", 25.0),
    "AUTH_TIMEOUT": env_float("WS_AUTH_TIMEOUT", 10.0),
    "TOKEN_EXPIRY_WARNING": env_float("WS_TOKEN_EXPIRY_WARNING", 60.0),
    "MAX_MESSAGE_BYTES": env_int("WS_MAX_MESSAGE_BYTES", 16 * 1024),
    # Origins of other sites' pages that may open sockets (scheme://host[:port], comma-separated);
    # the service's own pages always may.
    "ALLOWED_ORIGINS": env_list("WS_ALLOWED_ORIGINS", []),
    # What may wait unsent for one socket before it is closed with 4408 (a client that does not read).
    "MAX_BUFFERED_BYTES": env_int("WS_MAX_BUFFERED_BYTES", 1024 * 1024),
    "MAX_SUBSCRIPTIONS": env_int("WS_MAX_SUBSCRIPTIONS", 100),
    # Authenticated sockets one user may hold over every server process; one more is closed with 4429.
    "MAX_CONNECTIONS_PER_USER": env_int("WS_MAX_CONNECTIONS_PER_USER", 50),
    "RATE_PER_SECOND": env_float("WS_RATE_PER_SECOND", 20.0),
    "RATE_BURST": env_int("WS_RATE_BURST", 40),
    "FLOOD_PER_SECOND": env_int("WS_FLOOD_PER_SECOND", 100),
    "STATS_INTERVAL": env_float("WS_STATS_INTERVAL", 2.0),
    "STATS_TTL": env_int("WS_STATS_TTL", 10),
    # A process that cannot reach Redis this long closes its sockets (1012) so their clients resume on
    # another process; longer than a Sentinel failover, which must close nothing.
    "REDIS_LOST_CLOSE_SECONDS": env_float("WS_REDIS_LOST_CLOSE_SECONDS", 20.0),
    # Broadcasts waiting for the channel layer, per process; past this they are dropped (and counted),
    # and subscribers get those events from history.
    "PUBLISH_QUEUE_SIZE": env_int("PUBLISH_QUEUE_SIZE", 10_000),
}

# --- Abuse limits ---------------------------------------------------------------------------
# Throttle counters live here, so every server process behind the load balancer counts together.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "secureai-cache"),
        # A request waits at most a second for Redis before the throttles let it through.
        "OPTIONS": cache_options(sentinels=REDIS_SENTINELS, timeout=1.0),
    }
}

# Sign-in: this many failures for one username from one client address, each within
# THROTTLE_SIGNIN_WINDOW seconds of the one before, and that pair is refused (429) until the
# window has passed since the last failure. See secureai/signin_throttle.py.
THROTTLE_SIGNIN_FAILURES = env_int("THROTTLE_SIGNIN_FAILURES", 10)
THROTTLE_SIGNIN_WINDOW = env_int("THROTTLE_SIGNIN_WINDOW", 300)
# Analysis creation per user and minute (analyses/api/throttles.py).
THROTTLE_CREATE_PER_MINUTE = env_int("THROTTLE_CREATE_PER_MINUTE", 120)
# Reverse proxies (addresses or networks) whose X-Forwarded-For is believed; see secureai/client_address.py.
TRUSTED_PROXIES = env_networks("TRUSTED_PROXIES")

AUTHENTICATION_BACKENDS = [
    "secureai.signin_throttle.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "secureai.signin_throttle.SignInFailureCounter"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = THROTTLE_SIGNIN_FAILURES
AXES_COOLOFF_TIME = timedelta(seconds=THROTTLE_SIGNIN_WINDOW)
AXES_CLIENT_IP_CALLABLE = "secureai.client_address.client_address"
# Attempt records live in the cache, so axes' admin pages would always be empty.
AXES_ENABLE_ADMIN = False
# No start-up banner; failures and lockouts are still logged (usernames and addresses masked).
AXES_VERBOSE = False
SILENCED_SYSTEM_CHECKS = [
    # axes' middleware answers a lockout with its own page; ours (secureai.errors) answers 429.
    "axes.W002",
]

# Demo conveniences (seed_demo, run_worker --demo); production turns them off.
DEMO_ALLOWED = True

# --- Worker ---------------------------------------------------------------------------------
WORKER = {
    # Shown as the actor of the worker's events; empty means worker-<host>-<pid>.
    "NAME": env_str("WORKER_NAME", ""),
    # Dotted paths of the detector's steps, in stage order (see analyses.worker.pipeline), or the
    # name "demo" for the demonstration detector. None by default: a worker needs a real detector.
    "PIPELINE": env_list("WORKER_PIPELINE", []),
    "POLL_INTERVAL": env_float("WORKER_POLL_INTERVAL", 1.0),
    "HEARTBEAT_INTERVAL": env_float("WORKER_HEARTBEAT_INTERVAL", 10.0),
    # A processing analysis whose holder has not been heard from for this long is failed as worker_lost.
    "STALL_TIMEOUT": env_float("WORKER_STALL_TIMEOUT", 60.0),
    "SWEEP_INTERVAL": env_float("WORKER_SWEEP_INTERVAL", 5.0),
    # A failed analysis is requeued after RETRY_BACKOFF * 2**retry_count seconds, at most RETRY_BACKOFF_MAX.
    "RETRY_BACKOFF": env_float("WORKER_RETRY_BACKOFF", 5.0),
    "RETRY_BACKOFF_MAX": env_float("WORKER_RETRY_BACKOFF_MAX", 300.0),
    # The demonstration detector: 1.0 takes about 15 s an analysis; tests run it much faster.
    "DEMO_SPEED": env_float("WORKER_DEMO_SPEED", 1.0),
    "DEMO_FAILURE_RATE": env_float("WORKER_DEMO_FAILURE_RATE", 0.15),
    "DEMO_SEED": env_str("WORKER_DEMO_SEED", "secureai"),
    # With run_worker --demo: queue a new demo analysis after this many idle seconds.
    "DEMO_INTERVAL": env_float("WORKER_DEMO_INTERVAL", 10.0),
    # run_worker serves its Prometheus metrics on this port (none when unset or 0); see docs/monitoring.md.
    "METRICS_PORT": env_int("WORKER_METRICS_PORT", 0) or None,
    "METRICS_ADDRESS": env_str("WORKER_METRICS_ADDRESS", "127.0.0.1"),
}

# --- Monitoring -----------------------------------------------------------------------------
# The bearer token Prometheus presents to /metrics (and to the workers' exporters); unset means
# only staff may read /metrics and workers expose nothing.
METRICS_TOKEN = env_str("METRICS_TOKEN") or None

# "plain" (the default, for people) or "json" (one object per line, for a log pipeline); both go
# through one handler, whose filters add the request, connection and analysis ids and redact tokens
# (secureai/logs.py, secureai/log_redaction.py; docs/monitoring.md "Logs").
LOG_FORMAT = (env_str("LOG_FORMAT") or "plain").strip().lower()
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {env_str('LOG_FORMAT')!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "secureai.logs.JsonFormatter"},
    },
    "filters": {
        "log_ids": {"()": "secureai.logs.LogIdsFilter"},
        "redact": {"()": "secureai.log_redaction.RedactFilter"},
    },
    "handlers": {
        # Every handler has both filters, redact last, so that no handler writes a token.
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["log_ids", "redact"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # The access logs of daphne (secureai.server) and of runserver: every request line, with its
        # query string. Redacted like any line, yet kept quiet unless asked for.
        "daphne.access": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}

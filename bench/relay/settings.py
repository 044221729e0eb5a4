"""The relay's own settings: nothing but the channel layer (and what Django needs to start)."""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-relay-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
ASGI_APPLICATION = "bench.relay.asgi.application"
ROOT_URLCONF = "bench.relay.urls"
MIDDLEWARE: list[str] = []

# The same Redis options as our service (secureai.settings.base.channel_layers), so the comparison
# measures the code and not a layer setting: redis-py's 5 s socket timeout off, a large pool, a
# long group expiry, and the same per-channel capacity.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                    "socket_timeout": None,
                    "socket_connect_timeout": 5,
                    "max_connections": 2000,
                }
            ],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "bench-relay"),
            "group_expiry": 30 * 24 * 3600,
            "capacity": int(os.environ.get("CHANNEL_LAYER_CAPACITY", "1000")),
            "expiry": 60,
        },
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

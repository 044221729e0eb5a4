"""The relay's own settings: nothing but the channel layer (and what Django needs to start)."""

import os

from secureai.redis_clients import channel_layer_host

SECRET_KEY = os.environ.get("SECRET_KEY", "bench-relay-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
ASGI_APPLICATION = "bench.relay.asgi.application"
ROOT_URLCONF = "bench.relay.urls"
MIDDLEWARE: list[str] = []

# The same Redis options as our service (secureai.redis_clients), so the comparison measures the
# code and not a layer setting: chosen socket timeouts, a large pool, a long group expiry, and the
# same per-channel capacity.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                channel_layer_host(
                    redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), sentinels=[], master=""
                )
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

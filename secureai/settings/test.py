"""Settings for the test suite: real Redis and the configured database, fast password hashing."""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"secureai-test-{os.getpid()}")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

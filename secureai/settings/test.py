"""Settings for the test suite: real Redis and the configured database, fast password hashing."""

import os
import secrets

os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
os.environ.setdefault("CHANNEL_LAYER_PREFIX", f"secureai-test-{os.getpid()}")
# Throttle counters in the real Redis too, apart from every other run's (and the servers a run starts share it).
os.environ.setdefault("CACHE_KEY_PREFIX", f"secureai-test-{os.getpid()}-cache")
# Workers started by the tests run the demonstration detector, sped up by each test.
os.environ.setdefault("WORKER_PIPELINE", "demo")

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One test database per run, so two runs on one machine never share (or drop) each other's.
_run = os.environ.setdefault("SECUREAI_TEST_RUN", str(os.getpid()))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory, so the daphne and worker processes the tests start see the same data.
    # var/ is not in git, and SQLite will not create the folder.
    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{_run}.sqlite3")}  # noqa: F405
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_secureai_{_run}"}  # noqa: F405

# Processes started by the tests point here at the test database pytest-django created, and keep
# their connections as in production. The test process itself closes its connections after each
# use, so that nothing holds the test database open when pytest-django drops it at the end.
if os.environ.get("SECUREAI_TEST_DATABASE_NAME"):
    DATABASES["default"]["NAME"] = os.environ["SECUREAI_TEST_DATABASE_NAME"]  # noqa: F405
else:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

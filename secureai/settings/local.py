"""Settings for a developer's machine and the demo: a generated secret kept outside git, the demo detector."""

import os
import secrets
from pathlib import Path

_key_file = Path(__file__).resolve().parent.parent.parent / "var" / "secret_key"
if not os.environ.get("SECRET_KEY"):
    if not _key_file.exists():
        _key_file.parent.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    os.environ["SECRET_KEY"] = _key_file.read_text().strip()
# On a developer's machine the worker runs the demonstration detector unless told otherwise.
os.environ.setdefault("WORKER_PIPELINE", "demo")

from .base import *  # noqa: E402,F403

# The demo shows each request as it comes, as daphne always did: its access log, redacted like
# every line (secureai/server.py). The base settings keep it quiet.
LOGGING["loggers"]["daphne.access"] = {"level": "INFO"}  # noqa: F405

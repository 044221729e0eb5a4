"""The single-process demo: the service with the demo worker inside the server process.

``scripts/run`` serves this application instead of ``secureai.asgi`` only when no Redis is
reachable. The in-memory channel layer reaches nothing outside its own process, so the worker's
broadcasts can reach the sockets only from inside it. Never for more than one process.
"""

import os

# A demonstration, so the local settings unless told otherwise (secureai.asgi alone defaults to production).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "secureai.settings.local")

from secureai.asgi import application  # Django is set up before the worker's models load.

# isort: split
from analyses.worker.embedded import start_embedded_worker

__all__ = ["application"]

start_embedded_worker()

"""Settings of our server and producer processes in the benchmark: the base settings, unchanged.

``bench.run`` points them by environment at a database of its own (a SQLite file under var/, or
a PostgreSQL database it creates), a generated SECRET_KEY, its own channel-layer prefix on the
shared Redis, and LOG_LEVEL=WARNING. Everything else is what a deployment runs.
"""

from secureai.settings.base import *  # noqa: F403

"""The worker loop inside the daphne process: the single-process demo, where the in-memory channel
layer reaches only its own process, so only a worker in that process can reach the sockets.

The loop runs in a worker thread started from the server's event loop (``sync_to_async``), so its
broadcasts hop back onto that loop as every sync view's do. Daphne's shutdown waits for the
worker to let go of its analysis (see ``analyses.worker.loop``) before the process exits.
"""

import asyncio
import logging
import sys
import threading

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .config import WorkerConfig
from .loop import Worker

logger = logging.getLogger(__name__)


def start_embedded_worker() -> None:
    """Schedule the demo worker to start with daphne's reactor and to stop before it shuts down."""
    if not settings.DEMO_ALLOWED:
        raise ImproperlyConfigured("The single-process demo runs the demonstration detector; these settings forbid it.")
    if "twisted.internet.reactor" not in sys.modules:
        raise ImproperlyConfigured("The single-process demo needs daphne: start it with python -m daphne.")
    from twisted.internet import defer, reactor

    worker = Worker(WorkerConfig.from_settings(pipeline=("demo",)), stop=threading.Event(), demo=True)
    tasks: list[asyncio.Task] = []

    def start() -> None:
        # Startup triggers fire just before daphne's event loop starts running, so get, not get_running.
        loop = asyncio.get_event_loop()
        tasks.append(loop.create_task(sync_to_async(worker.run, thread_sensitive=False)()))
        logger.warning("Running worker %s inside this server process (single-process mode)", worker.config.name)

    def stop() -> defer.Deferred | None:
        worker.stop.set()
        return defer.Deferred.fromFuture(tasks[0]) if tasks else None

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", stop)

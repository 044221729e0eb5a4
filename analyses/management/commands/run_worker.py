"""``manage.py run_worker``: process queued analyses until SIGINT or SIGTERM."""

import logging
import signal
import threading
from http.server import ThreadingHTTPServer
from types import FrameType

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from analyses.worker.config import WorkerConfig
from analyses.worker.loop import Worker
from secureai.worker_exporter import start_worker_exporter

# What the command says goes through logging, so that it is in the log's format (LOG_FORMAT).
logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Claim queued analyses and run them through the stages. Several may run at once. "
        "SIGINT/SIGTERM stop it cleanly (a second one stops it at once)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", help="the worker's name, shown as the actor of its events")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="run the demonstration detector and queue a new demo analysis whenever idle a while",
        )

    def handle(self, *args: object, name: str | None = None, demo: bool = False, **options: object) -> None:
        if demo and not settings.DEMO_ALLOWED:
            raise CommandError("--demo runs the demonstration detector; these settings do not allow it.")
        exporter = self.start_exporter()
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            logger.info("%s: finishing up; send it again to stop at once.", signal.Signals(signum).name)
            stop.set()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        pipeline = ("demo",) if demo else None
        try:
            Worker(WorkerConfig.from_settings(name=name, pipeline=pipeline), stop=stop, demo=demo).run()
        finally:
            if exporter is not None:
                exporter.shutdown()
                exporter.server_close()

    def start_exporter(self) -> ThreadingHTTPServer | None:
        """Serve this worker's metrics when WORKER_METRICS_PORT is set (docs/monitoring.md)."""
        address, port = settings.WORKER["METRICS_ADDRESS"], settings.WORKER["METRICS_PORT"]
        if port is None:
            return None
        try:
            exporter = start_worker_exporter(address=address, port=port)
        except (ImproperlyConfigured, OSError) as error:
            raise CommandError(f"Cannot serve metrics on {address}:{port}: {error}") from error
        logger.info("Metrics on http://%s:%d/metrics", address, port)
        return exporter

"""A server process's life under daphne, as the app sees it: a call once it runs, and a drain when it stops.

On SIGTERM daphne's reactor shuts down: before it drops the connections and the listening port,
it runs every callback given to ``on_server_stop`` at once and waits for all of them. The service
uses that to drain (docs/protocol.md §5 "Server stop"): ``/readyz`` answers 503 so the balancer
sends nothing new, in-flight HTTP requests finish within ``SERVER_DRAIN_SECONDS``, and every
socket is closed with 1012, so its client resumes elsewhere with ``since_seq``. In a process that
is no daphne (tests, management commands) none of this runs.

daphne's command line also writes an access log of its own straight to stdout, every path with
its query string (``?token=`` too); ``access_log_through_logging`` sends it through logging
instead, as ``daphne.access``, where the redaction and the format apply like to any other line.
"""

import asyncio
import inspect
import logging
import sys
from collections.abc import Callable
from typing import Any

from daphne.access import AccessLogGenerator

_stopping = False
access_logger = logging.getLogger("daphne.access")


def stopping() -> bool:
    """True once this server has begun to stop."""
    return _stopping


def _reactor() -> Any | None:
    # Only a reactor daphne installed: importing one here would install Twisted's default.
    return sys.modules.get("twisted.internet.reactor")


def on_server_start(callback: Callable[[], Any]) -> None:
    """Call ``callback`` on daphne's event loop once it runs.

    Twisted's startup triggers fire just before the loop starts, so the call is scheduled on it.
    """
    reactor = _reactor()
    if reactor is not None:
        reactor.callWhenRunning(lambda: asyncio.get_event_loop().call_soon(callback))


def on_server_stop(callback: Callable[[], Any]) -> None:
    """Run ``callback`` when the server begins to stop; the stop waits for it if it returns an awaitable."""
    reactor = _reactor()
    if reactor is None:
        return
    from twisted.internet.defer import Deferred

    def run() -> Any:
        global _stopping
        _stopping = True
        outcome = callback()
        return Deferred.fromFuture(asyncio.ensure_future(outcome)) if inspect.isawaitable(outcome) else None

    reactor.addSystemEventTrigger("before", "shutdown", run)


class LoggedAccessLog(AccessLogGenerator):
    """daphne's access log entries, as lines of the ``daphne.access`` logger."""

    def write_entry(self, host, date, request, status=None, length=None, ident=None, user=None) -> None:
        access_logger.info('%s "%s" %s %s', host, request, status or "-", length or "-")


def access_log_through_logging() -> None:
    """Have daphne's command line, which builds its access log after loading the application,
    build a ``LoggedAccessLog``."""
    cli = sys.modules.get("daphne.cli")
    if cli is not None:
        cli.AccessLogGenerator = LoggedAccessLog

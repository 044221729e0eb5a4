"""Hands broadcasts from the committing thread to one event loop that sends them in order.

A write never waits for the channel layer: it queues the message and returns. In a server
process the messages go out on the server's own event loop (the hub attaches it), which reuses
its Redis connections and is the only way to reach the in-memory layer's queues; elsewhere (a
worker, a management command) a background thread runs a loop for them. One queue per loop
keeps them in commit order, so subscribers rarely see a gap to fill.

The queue is bounded (``PUBLISH_QUEUE_SIZE``): while Redis is down, or hangs without answering,
sends fail or wait out their timeout, the queue fills, and what does not fit is dropped and
counted, instead of memory growing with every write. Nothing is lost to a subscriber: history is
the durable copy, and the heartbeat and gap fill deliver what a dropped broadcast carried.
"""

import asyncio
import atexit
import logging
import threading
import time
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from .metrics import PUBLISH_FAILURES

logger = logging.getLogger(__name__)


class LoopSender:
    """Sends queued (group, message) pairs with ``group_send``, one after another, on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(settings.REALTIME["PUBLISH_QUEUE_SIZE"])
        self.task: asyncio.Task | None = None
        self.pending = 0
        self.dropped = 0

    def start(self) -> None:
        """Start draining; call from inside ``loop``."""
        self.task = self.loop.create_task(self._drain(), name="broadcast-sender")

    def submit(self, group: str, message: dict[str, Any]) -> None:
        self.pending += 1
        self.loop.call_soon_threadsafe(self._enqueue, group, message)

    def _enqueue(self, group: str, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((group, message))
        except asyncio.QueueFull:
            self.pending -= 1
            self.dropped += 1
            _count_failure(f"The broadcast queue is full; dropped a message to {group}")

    async def _drain(self) -> None:
        while True:
            group, message = await self.queue.get()
            try:
                await get_channel_layer().group_send(group, message)
            except Exception:
                _count_failure(f"Channel layer send to {group} failed", exc_info=True)
            finally:
                self.pending -= 1

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _count_failure(what: str, *, exc_info: bool = False) -> None:
    PUBLISH_FAILURES.inc()
    logger.warning("%s; subscribers catch up from history", what, exc_info=exc_info)


_lock = threading.Lock()
_server_sender: LoopSender | None = None
_background_sender: LoopSender | None = None


def attach(sender: LoopSender) -> None:
    """Route broadcasts to a server's event loop from now on."""
    global _server_sender
    with _lock:
        _server_sender = sender


def detach(sender: LoopSender) -> None:
    global _server_sender
    with _lock:
        if _server_sender is sender:
            _server_sender = None


def _background() -> LoopSender:
    global _background_sender
    with _lock:
        if _background_sender is None:
            loop = asyncio.new_event_loop()
            sender = LoopSender(loop)
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                sender.start()
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="broadcast-sender", daemon=True).start()
            started.wait()
            _background_sender = sender
        return _background_sender


def submit(group: str, message: dict[str, Any]) -> None:
    """Queue one group message; returns at once."""
    sender = _server_sender or _background()
    sender.submit(group, message)


@atexit.register
def flush(timeout: float = 3.0) -> None:
    """Give queued broadcasts a moment to leave before the process exits."""
    deadline = time.monotonic() + timeout
    for sender in (_server_sender, _background_sender):
        while sender is not None and sender.pending > 0 and time.monotonic() < deadline:
            time.sleep(0.01)

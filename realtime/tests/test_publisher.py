"""The publisher never holds a write up and never grows without bound while Redis is away."""

import asyncio
import socket
import threading
import time

import pytest
from channels.layers import channel_layers
from django.test import override_settings
from prometheus_client import REGISTRY

from analyses.tests.helpers import drive_to
from realtime import publisher
from realtime.publisher import LoopSender


def publish_failures() -> float:
    return REGISTRY.get_sample_value("secureai_publish_failures_total")


async def test_a_full_queue_drops_what_does_not_fit_and_counts_it(settings):
    settings.REALTIME = {**settings.REALTIME, "PUBLISH_QUEUE_SIZE": 2}
    sender = LoopSender(asyncio.get_running_loop())  # not started: nothing leaves the queue
    before = publish_failures()
    for number in range(5):
        sender.submit("analysis.x", {"type": "analysis.event", "n": number})
    await asyncio.sleep(0)  # the hand-over to the loop runs

    assert sender.queue.qsize() == 2 and sender.dropped == 3 and sender.pending == 2
    assert [sender.queue.get_nowait()[1]["n"] for _ in range(2)] == [0, 1]  # the oldest kept, in order
    assert publish_failures() - before == 3


@pytest.fixture
def silent_redis():
    """A port that accepts connections and never answers, like a Redis that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


@pytest.mark.django_db
def test_a_write_returns_at_once_while_redis_hangs(
    silent_redis, owner, make_analysis, status_changer, api_client, django_capture_on_commit_callbacks
):
    analysis = drive_to(make_analysis(owner), "queued")
    layers = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A short timeout, so the sender this test shares with others is free again soon after.
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{silent_redis}/0", "socket_timeout": 1}]},
        }
    }
    channel_layers.backends = {}
    try:
        with override_settings(CHANNEL_LAYERS=layers):
            channel_layers.backends = {}
            started = time.monotonic()
            with django_capture_on_commit_callbacks(execute=True) as published:
                response = api_client(status_changer).post(
                    f"/api/analyses/{analysis.pk}/transition/", {"status": "processing"}, format="json"
                )
            answered = time.monotonic() - started
            time.sleep(0.5)
            stuck = publisher._background().pending  # the send waits on Redis, on its own loop
            publisher.flush(timeout=5)  # the send times out and is counted as failed
    finally:
        channel_layers.backends = {}
    assert response.status_code == 200 and len(published) == 1
    assert answered < 2
    assert stuck >= 1

"""The ASGI handler serves each request in one step on a few long-lived threads, not a new one each time."""

import asyncio
import threading

import pytest
from channels.testing import HttpCommunicator
from django.core.signals import request_started
from django.utils.module_loading import import_string

from secureai.request_threads import ThreadedASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def get_list(handler: ThreadedASGIHandler) -> HttpCommunicator:
    """An anonymous GET of a sync DRF view (401), as a client on 127.0.0.1 sends it."""
    return HttpCommunicator(handler, "GET", "/api/analyses/", headers=[(b"host", b"127.0.0.1")])


@pytest.fixture
def request_threads() -> set[int]:
    """The threads on which requests start, seen by a sync receiver of request_started."""
    seen: set[int] = set()

    def record(**kwargs: object) -> None:
        seen.add(threading.get_ident())

    request_started.connect(record, dispatch_uid="test-request-threads")
    yield seen
    request_started.disconnect(dispatch_uid="test-request-threads")


async def test_requests_share_the_configured_threads(settings, request_threads):
    settings.REQUEST_THREADS = 2
    handler = ThreadedASGIHandler()
    for _ in range(3):  # one after another, then many at once
        response = await get_list(handler).get_response()
        assert response["status"] == 401
    responses = await asyncio.gather(*(get_list(handler).get_response() for _ in range(20)))
    assert {response["status"] for response in responses} == {401}
    assert 1 <= len(request_threads) <= 2
    assert threading.get_ident() not in request_threads


async def test_a_request_waits_for_a_free_thread(settings, request_threads):
    settings.REQUEST_THREADS = 1
    handler = ThreadedASGIHandler()
    executor = await handler.threads.borrow()  # the only thread is busy
    waiting = asyncio.ensure_future(get_list(handler).get_response())
    await asyncio.sleep(0.2)
    assert not waiting.done()
    handler.threads.give_back(executor)
    assert (await asyncio.wait_for(waiting, 5))["status"] == 401


def test_every_middleware_runs_in_the_requests_thread(settings):
    """An async-only middleware in the sync chain would move every request back to the loop and again."""
    async_only = [path for path in settings.MIDDLEWARE if not getattr(import_string(path), "sync_capable", True)]
    assert async_only == []

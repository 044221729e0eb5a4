"""Django's ASGI handler, serving each HTTP request in one step on one of a few long-lived threads.

Django's own ASGI handler runs a request's sync code piece by piece, each piece moved to a thread
and back: every ``process_request`` and ``process_response`` of the (sync) middleware, the
signals, the view, the closing of the response; and in a thread made for that request alone, so
each request also opens its own database connection. For an API of sync DRF views that was about
a third of the CPU of a status update.

``ThreadedASGIHandler`` reads the body on the event loop, then runs the whole request, in Django's
sync mode (as a threaded WSGI server would), on one of ``REQUEST_THREADS`` long-lived threads:
``request_started``, the middleware, the view, rendering, ``request_finished``; then it sends the
response from the loop. Each thread keeps its database connection (``CONN_MAX_AGE`` on SQLite,
Django's pool on PostgreSQL) from request to request. A request that finds every thread busy waits
for one. Async views still work: Django runs them on the event loop from the thread. When the
server stops, ``drain`` lets the requests under way finish first.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import base
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpResponseBase
from django.urls import set_script_prefix


class RequestThreads:
    """A fixed set of single-thread executors, lent to one request at a time."""

    def __init__(self, count: int) -> None:
        self._executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="request") for _ in range(count)]
        self._free: asyncio.Queue[ThreadPoolExecutor] | None = None

    async def borrow(self) -> ThreadPoolExecutor:
        if self._free is None:  # made on first use, inside the server's event loop
            self._free = asyncio.Queue()
            for executor in self._executors:
                self._free.put_nowait(executor)
        return await self._free.get()

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        self._free.put_nowait(executor)


class ThreadedASGIHandler(ASGIHandler):
    """``ASGIHandler`` that serves each request in one step on ``RequestThreads`` (see the module doc)."""

    def __init__(self) -> None:
        base.BaseHandler.__init__(self)
        self.load_middleware(is_async=False)  # one sync chain, run whole inside one thread
        self.threads = RequestThreads(settings.REQUEST_THREADS)
        self.in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        self.in_flight += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _serve(self, scope: dict[str, Any], receive, send) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        with closing(body_file):
            executor = await self.threads.borrow()
            try:
                async with ThreadSensitiveContext(executor=executor):
                    response = await sync_to_async(self.respond)(scope, body_file)
                    await self.send_response(response, send)  # a streamed body is read on the same thread
                    if response.streaming:
                        await sync_to_async(response.close)()
            finally:
                self.threads.give_back(executor)

    async def drain(self, within: float) -> None:
        """The server is stopping: let the requests under way finish, for at most ``within`` seconds."""
        deadline = asyncio.get_running_loop().time() + within
        while self.in_flight and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    def respond(self, scope: dict[str, Any], body_file) -> HttpResponseBase:
        """The whole of a request but sending the response, on the request's thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        response._handler_class = self.__class__
        if not response.streaming:
            response.close()  # request_finished: the connection is tidied on the thread that holds it
        return response

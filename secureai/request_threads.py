"""Django's ASGI handler, with the sync work of each request on one of a few long-lived threads.

Django runs the sync parts of an ASGI request (sync middleware, sync views, signals) in a thread
made for that request alone, so each request opens its own database connection and closes it at
the end: about a tenth of the CPU of a status update. Here each request borrows one of
``REQUEST_THREADS`` single-thread executors instead (asgiref's ``ThreadSensitiveContext`` with an
executor), so its thread, and the database connection that thread keeps (``CONN_MAX_AGE`` on
SQLite, Django's pool on PostgreSQL), serve request after request. A request that finds every
thread busy waits for one; async views and middleware never need one.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


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


class PooledThreadsASGIHandler(ASGIHandler):
    """``ASGIHandler`` whose requests run their sync code on ``RequestThreads`` (see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.threads = RequestThreads(settings.REQUEST_THREADS)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = await self.threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)
